"""``manage.py consume HANDLER``: validate the options and the handler, then become the
supervisor, whose workers consume from the broker (``hurricane.consumer``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hurricane.management.commands import serve

if TYPE_CHECKING:
    from supervisor.options import Options


class Command(serve.Command):
    help = (
        "Consume messages from an AMQP broker (RabbitMQ) with Hurricane: a supervisor, a "
        "probe server and consumer worker processes that hand each message to HANDLER. "
        "Options may also be set as HURRICANE_<NAME> in settings or the environment "
        "(command line > settings > environment > default)."
    )
    name = "consume"
    worker_kind = "consumer"

    def check_options(self, options: Options) -> None:
        """The handler must import and be of a form the consumer knows."""
        from hurricane.consumer import handlers
        from supervisor.options import OptionError

        assert options.handler is not None
        try:
            handlers.load(options.handler)
        except handlers.HandlerError as exc:
            raise OptionError("handler", options.handler, "the options", str(exc)) from None
