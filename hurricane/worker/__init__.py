"""The worker process: Hurricane's own HTTP/1.1 server on an asyncio event loop, serving the
Django WSGI application on the listening socket the supervisor shares with it."""
