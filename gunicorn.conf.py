# App Service (Linux) runs: gunicorn --config gunicorn.conf.py bot.wsgi:app
import os

bind = os.environ.get("OTPBOT_BIND", "0.0.0.0:8000")
worker_class = "aiohttp.GunicornWebWorker"
# One worker per instance: dialog state, dedupe and counters are per process until shared storage is used.
workers = 1
timeout = 60
graceful_timeout = 25  # finish in-flight turns before App Service's stop limit
accesslog = None  # aiohttp's access log would record client IPs and paths only; App Service keeps its own
