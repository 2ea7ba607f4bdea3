from supervisor.restart import RestartPolicy


def test_first_crash_restarts_at_once_then_backs_off_exponentially_up_to_the_cap():
    policy = RestartPolicy(base=0.5, cap=4.0, reset_after=30.0)
    delays = [policy.on_crash(now=float(t)) for t in range(7)]
    assert delays == [0.0, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_a_healthy_stretch_forgives_past_crashes():
    policy = RestartPolicy(base=0.5, cap=4.0, reset_after=10.0)
    policy.on_crash(0.0)
    policy.on_crash(1.0)
    policy.on_healthy(2.0)
    policy.on_healthy(13.0)
    assert policy.on_crash(14.0) == 0.0


def test_a_short_healthy_stretch_does_not_reset():
    policy = RestartPolicy(base=0.5, cap=4.0, reset_after=10.0)
    policy.on_crash(0.0)
    policy.on_healthy(1.0)
    assert policy.on_crash(3.0) == 0.5
