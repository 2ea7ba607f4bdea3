"""consume's options: the same resolve() as serve, its own options, django-hurricane's names."""

import pytest

from supervisor.options import FIELDS, OptionError, Options, deprecations, mask_url, resolve

BASE = {"handler": "shop.consumers.handle", "queue": "orders", "amqp_host": "mq"}


def consume(cli=None, settings=None, env=None):
    return resolve({**BASE, **(cli or {})}, settings or {}, env or {}, "consume")


@pytest.mark.parametrize(
    ("cli", "settings", "env", "expected"),
    [
        ({}, {}, {"AMQP_HOST": "env-legacy"}, "env-legacy"),
        ({}, {}, {"HURRICANE_AMQP_HOST": "env", "AMQP_HOST": "env-legacy"}, "env"),
        ({}, {"AMQP_HOST": "setting-legacy"}, {"HURRICANE_AMQP_HOST": "env"}, "setting-legacy"),
        ({}, {"HURRICANE_AMQP_HOST": "setting", "AMQP_HOST": "setting-legacy"}, {}, "setting"),
        ({"amqp_host": "cli"}, {"HURRICANE_AMQP_HOST": "setting"}, {}, "cli"),
    ],
)
def test_amqp_host_precedence_with_django_hurricanes_names(cli, settings, env, expected):
    options = resolve({"handler": "a.b", "queue": "q", **cli}, settings, env, "consume")
    assert options.amqp_host == expected


def test_django_hurricanes_port_setting_may_be_a_string():
    assert consume(settings={"AMQP_PORT": "5673"}).amqp_port == 5673
    assert consume().amqp_port == 5672
    with pytest.raises(OptionError, match='option --amqp-port: "x" from setting AMQP_PORT is not a port'):
        consume(settings={"AMQP_PORT": "x"})


def test_serve_options_in_the_settings_do_not_reach_consume():
    settings = {
        "HURRICANE_PORT": 9000,
        "HURRICANE_MAX_REQUESTS": 5,
        "HURRICANE_THREADS": 4,
        "HURRICANE_WORKERS": 3,
    }
    options = consume(settings=settings, env={"KUBERNETES_SERVICE_HOST": "10.0.0.1"})
    assert options.port == 8000 and options.effective_probe_port == 8001  # django-hurricane's 8001
    assert options.max_requests is None and options.threads == Options().threads
    assert options.workers == 3  # shared: consumer processes
    assert options.shutdown_delay == 0.0  # no load balancer to leave


def test_consume_options_do_not_reach_serve():
    options = resolve({}, {"HURRICANE_QUEUE": "orders", "HURRICANE_CONCURRENCY": "x"}, {})
    assert options.queue == "" and options.concurrency == 1


def test_max_lifetime_counts_messages_for_consume_without_a_warning():
    cli = {**BASE, "max_lifetime": "500"}
    assert resolve(cli, {}, {}, "consume").max_requests == 500
    assert deprecations(cli, {}, {}, "consume") == []
    assert deprecations({"max_lifetime": "5"}, {}, {}, "serve")  # serve's deprecated alias


def test_routing_keys_repeat_on_the_command_line_and_split_on_commas_in_the_environment():
    assert consume({"routing_key": ["a.*", "b.#"]}).routing_key == ("a.*", "b.#")
    assert consume(env={"HURRICANE_ROUTING_KEY": "a.*, b.#"}).routing_key == ("a.*", "b.#")


def test_prefetch_defaults_to_none_meaning_the_concurrency():
    assert consume({"concurrency": "4"}).prefetch is None
    assert consume({"concurrency": "4", "prefetch": "20"}).prefetch == 20


@pytest.mark.parametrize(
    ("cli", "message"),
    [
        ({"handler": None}, "option --handler is missing"),
        ({"handler": "handle"}, "is not a dotted path"),
        ({"amqp_host": None}, "option --amqp-host is missing: give --amqp-host"),
        ({"queue": None}, "option --queue is missing: there is no --exchange"),
        ({"no_declare": True, "queue": None, "exchange": "x"}, "--no-declare consumes an existing queue"),
        ({"exchange_type": "fan"}, "is not an exchange type (topic, direct, fanout, headers)"),
        ({"concurrency": "0"}, "must be at least 1"),
        (
            {"concurrency": "4", "prefetch": "3"},
            "option --prefetch: 3 from the options is less than --concurrency 4",
        ),
        ({"amqp_url": "http://mq/"}, "is not an amqp:// or amqps:// URL"),
        ({"handler_timeout": "soon"}, "is not a duration"),
    ],
)
def test_errors_name_the_option(cli, message):
    with pytest.raises(OptionError) as info:
        consume(cli)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_an_exchange_without_a_queue_gets_a_server_named_queue():
    assert consume({"queue": None, "exchange": "events"}).queue == ""


def test_a_url_replaces_the_host():
    options = consume({"amqp_host": None, "amqp_url": "amqps://u:p@mq.example.com/shop"})
    assert options.amqp_url == "amqps://u:p@mq.example.com/shop"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("amqp://user:pw@h:5672/%2F?heartbeat=5", "amqp://user:***@h:5672/%2F?heartbeat=5"),
        ("amqps://user@h/", "amqps://user@h/"),
        ("amqp://h/", "amqp://h/"),
        ("amqp://:pw@h/", "amqp://:***@h/"),
        ("amqp://u:p%40ss@h/", "amqp://u:***@h/"),
    ],
)
def test_urls_are_shown_without_their_password(url, shown):
    assert mask_url(url) == shown


@pytest.mark.parametrize(
    ("source", "url"),
    [
        ("cli", "amqp://user:hunter2@h:port/"),
        ("env", "amqp://user:hunter2@h:port/"),
        ("cli", "http://user:hunter2@h/"),
    ],
)
def test_a_bad_url_never_shows_its_password(source, url):
    with pytest.raises(OptionError) as info:
        if source == "cli":
            consume({"amqp_url": url})
        else:
            consume(env={"HURRICANE_AMQP_URL": url})
    assert "hunter2" not in str(info.value) and "user:***@" in str(info.value)


def test_a_password_is_masked_in_any_error_about_it():
    error = OptionError("amqp_password", "hunter2", "setting AMQP_PASSWORD", "is wrong")
    assert "hunter2" not in str(error) and error.value == "***"


def test_the_handler_is_consumes_positional_argument():
    meta = FIELDS["handler"].metadata
    assert meta["positional"] and meta["commands"] == ("consume",)
    assert consume(settings={"HURRICANE_HANDLER": "x.y"}, cli={"handler": None}).handler == "x.y"
