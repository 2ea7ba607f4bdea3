# Private PostgreSQL, Redis and RabbitMQ servers, one per session, for the tests that need them.
pytest_plugins = ["tests.services"]
