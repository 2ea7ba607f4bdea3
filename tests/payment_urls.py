"""A URLconf whose module needs a variable the environment lacks, as a real project's might."""

import os

API_KEY = os.environ["PAYMENT_API_KEY"]
urlpatterns: list[object] = []
