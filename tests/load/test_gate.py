"""The SLO gate of tools.load_test on hand-made samples: per-group percentiles, expected
refusals that are not errors, and a run that fails on latency or on a single error."""

from __future__ import annotations

from tools.load_test import Sample, group_stats, parse_slo, slo_gate, summarise_run


def samples(group: str, latencies: list[float], ok: bool = True, status: str = "200"):
    return [
        Sample(1000.0 + i * 0.1, group, f"/{group}", ms, ok, status, "")
        for i, ms in enumerate(latencies)
    ]


SLO = parse_slo(["browse=50:150", "checkout=300:1000"])


def test_a_fast_clean_run_passes_and_refusals_are_not_errors():
    run = samples("browse", [5.0] * 99 + [40.0]) + samples("checkout", [200.0] * 20)
    run += samples("cart", [10.0] * 5, ok=True, status="409")  # out of stock: expected
    stats = {s.group: s for s in group_stats(run)}
    assert stats["cart"].refused == 5 and stats["cart"].errors == 0
    assert slo_gate(list(stats.values()), SLO, max_error_rate=0.0).ok


def test_a_slow_tail_fails_the_gate_for_its_group_only():
    run = samples("browse", [5.0] * 90 + [80.0] * 10) + samples("checkout", [200.0] * 20)
    gate = slo_gate(group_stats(run), SLO, max_error_rate=0.0)
    assert not gate.ok
    assert all(v.startswith("browse: p95") for v in gate.violations), gate.violations


def test_one_unexpected_error_fails_the_gate():
    run = samples("browse", [5.0] * 100) + samples("checkout", [100.0], ok=False, status="500")
    gate = slo_gate(group_stats(run), SLO, max_error_rate=0.0)
    assert [v for v in gate.violations if v.startswith("ALL http")], gate.violations


def test_the_ramp_up_is_left_out_of_the_latency_gate_but_not_its_errors(tmp_path):
    ramp = samples("browse", [900.0] * 10)  # t 1000.0 .. 1000.9
    steady = [
        Sample(1030.0 + i * 0.1, "browse", "/products", 5.0, True, "200", "") for i in range(100)
    ]
    gate, _stats, _text = summarise_run(tmp_path, ramp + steady, SLO, 0.0, "t", warmup=15)
    assert gate.ok, gate.violations
    failing_ramp = [*ramp, Sample(1000.5, "browse", "/products", 3.0, False, "503", "")]
    gate, _stats, _text = summarise_run(tmp_path, failing_ramp + steady, SLO, 0.0, "t", warmup=15)
    assert gate.violations == ["1 errors during the ramp-up"]


def test_a_group_with_too_few_requests_is_not_judged_on_latency():
    run = samples("browse", [5.0] * 100) + samples("checkout", [5000.0] * 3)
    assert slo_gate(group_stats(run), SLO, max_error_rate=0.0).ok
