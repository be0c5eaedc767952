"""Product images: rules (keys, sizes, URLs, limits), the codec (Pillow), generated placeholders,
the object-storage port and its adapters (local folder, S3). The use cases are in
`vanity_catalog.service.images`."""
