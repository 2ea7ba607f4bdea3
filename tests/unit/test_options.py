import dataclasses

import pytest

from supervisor.options import FIELDS, OptionError, Options, deprecations, resolve


@pytest.mark.parametrize(
    ("cli", "settings", "env", "expected"),
    [
        ({}, {}, {}, 8000),
        ({}, {}, {"HURRICANE_PORT": "9001"}, 9001),
        ({}, {"HURRICANE_PORT": 9002}, {"HURRICANE_PORT": "9001"}, 9002),
        ({"port": "9003"}, {"HURRICANE_PORT": 9002}, {"HURRICANE_PORT": "9001"}, 9003),
        # Giving the default explicitly still counts as given.
        ({"port": "8000"}, {"HURRICANE_PORT": 9002}, {}, 8000),
    ],
)
def test_precedence_cli_then_settings_then_env_then_default(cli, settings, env, expected):
    assert resolve(cli, settings, env).port == expected


def test_probe_port_follows_port_unless_given():
    assert resolve({"port": "9000"}).effective_probe_port == 9001
    assert resolve({"port": "9000", "probe_port": "7000"}).effective_probe_port == 7000
    assert resolve({"port": "0"}).effective_probe_port == 0


@pytest.mark.parametrize(
    ("cli", "env", "message"),
    [
        ({"port": "80a"}, {}, 'option --port: "80a" from the command line is not a port number'),
        ({}, {"HURRICANE_PORT": "80a"}, 'option --port: "80a" from env HURRICANE_PORT'),
        ({"port": "70000"}, {}, "is not a port number"),
        ({"workers": "-1"}, {}, 'option --workers: "-1" from the command line must be at least 1'),
        ({"workers": "two"}, {}, "is not a whole number"),
        (
            {},
            {"HURRICANE_NO_PROBE": "maybe"},
            'option --no-probe: "maybe" from env HURRICANE_NO_PROBE is not a boolean',
        ),
        ({"heartbeat_interval": "fast"}, {}, "is not a duration"),
        ({"readiness_probe": "ready"}, {}, "is not a URL path"),
        (
            {"port": "8000", "probe_port": "8000"},
            {},
            "option --probe-port: 8000 from the options is the same as --port",
        ),
        (
            {"heartbeat_interval": "5", "heartbeat_timeout": "2"},
            {},
            "must be longer than --heartbeat-interval",
        ),
    ],
)
def test_errors_name_the_option_the_value_and_the_source(cli, env, message):
    with pytest.raises(OptionError) as info:
        resolve(cli, {}, env)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_setting_errors_name_the_setting():
    with pytest.raises(OptionError, match="from setting HURRICANE_THREADS"):
        resolve({}, {"HURRICANE_THREADS": -1}, {})


@pytest.mark.parametrize(
    ("text", "value"), [("1", True), ("yes", True), ("TRUE", True), ("0", False), ("no", False)]
)
def test_booleans(text, value):
    assert resolve({}, {}, {"HURRICANE_NO_PROBE": text}).no_probe is value


@pytest.mark.parametrize(("text", "seconds"), [("30", 30.0), ("2.5s", 2.5), ("500ms", 0.5), ("1m", 60.0)])
def test_durations(text, seconds):
    assert resolve({"graceful_timeout": text}).graceful_timeout == seconds


@pytest.mark.parametrize(("text", "size"), [("1024", 1024), ("100MiB", 100 * 2**20), ("2k", 2000)])
def test_sizes(text, size):
    assert resolve({"max_body_size": text}).max_body_size == size


def test_shutdown_delay_defaults_to_five_seconds_under_kubernetes():
    assert resolve({}, {}, {}).shutdown_delay == 0.0
    assert resolve({}, {}, {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}).shutdown_delay == 5.0
    assert resolve({"shutdown_delay": "1"}, {}, {"KUBERNETES_SERVICE_HOST": "x"}).shutdown_delay == 1.0


def test_json_round_trip():
    options = resolve({"port": "9000", "workers": "3", "no_probe": True})
    assert Options.from_json(options.to_json()) == options


def test_options_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        resolve({}).port = 1  # type: ignore[misc]


def test_every_option_has_help_and_parser():
    for spec in FIELDS.values():
        assert spec.metadata["help"]
        assert callable(spec.metadata["parse"])


@pytest.mark.parametrize(
    ("cli", "settings", "env", "expected"),
    [
        ({"probe": "/livez"}, {}, {}, "/livez"),
        ({}, {}, {"HURRICANE_PROBE": "/livez"}, "/livez"),
        # The option's own name beats its alias at the same level...
        ({"liveness_probe": "/a", "probe": "/b"}, {}, {}, "/a"),
        ({}, {"HURRICANE_LIVENESS_PROBE": "/a", "HURRICANE_PROBE": "/b"}, {}, "/a"),
        # ...and any higher level beats both.
        ({"probe": "/cli"}, {"HURRICANE_LIVENESS_PROBE": "/setting"}, {}, "/cli"),
    ],
)
def test_probe_is_an_alias_of_liveness_probe(cli, settings, env, expected):
    assert resolve(cli, settings, env).liveness_probe == expected


def test_max_lifetime_sets_max_requests_and_is_reported_as_deprecated():
    assert resolve({"max_lifetime": "500"}).max_requests == 500
    assert resolve({}, {"HURRICANE_MAX_LIFETIME": 7}, {}).max_requests == 7
    assert resolve({"max_requests": "9", "max_lifetime": "500"}).max_requests == 9
    [warning] = deprecations({"max_lifetime": "500"}, {}, {})
    assert warning == "--max-lifetime is deprecated: use --max-requests (HURRICANE_MAX_REQUESTS)"
    [warning] = deprecations({}, {}, {"HURRICANE_MAX_LIFETIME": "5"})
    assert warning.startswith("env HURRICANE_MAX_LIFETIME is deprecated")
    assert deprecations({"max_requests": "5", "probe": "/x"}, {}, {}) == []


def test_alias_errors_name_the_alias():
    with pytest.raises(OptionError, match='option --max-lifetime: "soon" from the command line'):
        resolve({"max_lifetime": "soon"})


@pytest.mark.parametrize(
    ("raw", "commands"),
    [
        (["migrate --noinput"], ("migrate --noinput",)),
        (["migrate", "check --deploy"], ("migrate", "check --deploy")),
        ("collectstatic --noinput", ("collectstatic --noinput",)),
        ('["migrate", "check"]', ("migrate", "check")),
        ([["compilemessages", "-l", "de"]], ("compilemessages -l de",)),  # django-hurricane's form
        (["shell -c 'print(1)'"], ("shell -c 'print(1)'",)),
    ],
)
def test_commands_from_every_source(raw, commands):
    assert resolve({"command": raw}).command == commands
    if isinstance(raw, str):
        assert resolve({}, {}, {"HURRICANE_COMMAND": raw}).command == commands


@pytest.mark.parametrize(
    ("raw", "problem"),
    [(["   "], "is an empty command"), (['echo "open'], "is not a command line"), ("[oops", "JSON")],
)
def test_bad_commands(raw, problem):
    with pytest.raises(OptionError, match=problem):
        resolve({"command": raw})


def test_static_watch_paths_split_on_pathsep_in_the_environment():
    env = {"HURRICANE_STATIC_WATCH": "assets:more/assets"}
    assert resolve({}, {}, env).static_watch == ("assets", "more/assets")
    assert resolve({"static_watch": ["a", "b"]}).static_watch == ("a", "b")


@pytest.mark.parametrize("url", ["ftp://x", "localhost:9000/hook", "http://", "http://a b"])
def test_webhook_url_must_be_http(url):
    with pytest.raises(OptionError, match="is not an http:// or https:// URL"):
        resolve({"webhook_url": url})


def test_version_comes_from_settings_or_environment_only():
    assert resolve({}, {"HURRICANE_VERSION": "1.2"}, {"HURRICANE_VERSION": "1.1"}).version == "1.2"
    assert resolve({}, {}, {"HURRICANE_VERSION": "1.1"}).version == "1.1"
    assert not FIELDS["version"].metadata["flag"]


def test_pycharm_host_needs_a_port():
    with pytest.raises(OptionError, match='option --pycharm-host: "localhost" .* needs --pycharm-port'):
        resolve({"pycharm_host": "localhost"})
    assert resolve({"pycharm_host": "localhost", "pycharm_port": "5679"}).pycharm_port == 5679


def test_repeatable_options_survive_the_json_round_trip():
    options = resolve({"command": ["migrate", "check"], "static_watch": ["assets"]})
    assert Options.from_json(options.to_json()) == options


@pytest.mark.parametrize(
    ("name", "default"),
    [
        ("debugger_port", 5678),
        ("max_body_size", 100 * 2**20),
        ("max_buffer_size", 100 * 2**20),
        ("req_queue_len", 10),
        ("liveness_probe", "/alive"),
        ("static", False),
        ("max_requests", None),
    ],
)
def test_django_hurricane_defaults(name, default):
    assert getattr(resolve({}), name) == default


def test_trusted_proxies_are_validated_and_normalised():
    assert resolve({"trusted_proxies": " 10.0.0.1/8, ::1 ,*"}).trusted_proxies == "*,10.0.0.0/8,::1/128"
    with pytest.raises(OptionError, match="--trusted-proxies"):
        resolve({"trusted_proxies": "10.0.0.0/8,proxy.local"})


def test_a_probe_path_used_twice_names_the_option_that_repeats_it():
    with pytest.raises(
        OptionError,
        match='option --readiness-probe: "/alive" from the options is also the path of --liveness-probe',
    ):
        resolve({"readiness_probe": "/alive"})
    with pytest.raises(OptionError, match="--startup-probe.*also the path of --readiness-probe"):
        resolve({"startup_probe": "/ready"})


def test_defaults_are_shown_in_the_units_people_type():
    from supervisor.options import shown_default

    assert shown_default(FIELDS["max_body_size"]) == "100MiB"
    assert shown_default(FIELDS["read_timeout"]) == "30s"
    assert shown_default(FIELDS["data_rate_grace"]) == "5s"
    assert shown_default(FIELDS["probe_port"]) == "--port + 1"
    assert shown_default(FIELDS["trusted_proxies"]) is None
    assert shown_default(FIELDS["static"]) is None


def test_a_mistyped_flag_gets_the_closest_one():
    from supervisor.options import suggestion

    known = ["--port", "--probe-port", "--workers", "--max-requests"]
    assert suggestion("--prot", known) == "--port"
    assert suggestion("--worker=3", known) == "--workers"
    assert suggestion("--bogus", known) is None


def test_the_access_log_format_is_checked_against_its_fields():
    assert (
        resolve({"access_log_format": "{method} {duration_ms:.0f}"}).access_log_format
        == "{method} {duration_ms:.0f}"
    )
    with pytest.raises(OptionError, match="names an unknown field 'user'"):
        resolve({"access_log_format": "{user}"})
    with pytest.raises(OptionError, match="is not a format"):
        resolve({"access_log_format": "{method"})


def test_the_event_loop_is_one_of_three_and_auto_resolves_to_what_is_installed(monkeypatch):
    from hurricane import event_loop

    assert resolve({}).loop == "auto"
    assert resolve({}, {}, {"HURRICANE_LOOP": " UVLOOP "}).loop == "uvloop"
    with pytest.raises(OptionError, match=r"is not an event loop \(auto, asyncio, uvloop\)"):
        resolve({"loop": "trio"})
    assert event_loop.chosen(resolve({"loop": "asyncio"})) == "asyncio"
    monkeypatch.setattr(event_loop, "importable", lambda module: False)
    assert event_loop.chosen(resolve({})) == "asyncio"
    monkeypatch.setattr(event_loop, "importable", lambda module: module == "uvloop")
    assert event_loop.chosen(resolve({})) == "uvloop"
