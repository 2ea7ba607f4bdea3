"""django-hurricane's AMQP import path, so its ``TopicHandler`` subclasses run unchanged.

The consumer itself lives in ``hurricane.consumer``; this package only keeps the
names 1.6 users import (``hurricane.amqp.basehandler.TopicHandler``).
"""
