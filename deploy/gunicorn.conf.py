"""gunicorn settings for Herald's web process (deploy/systemd/herald-web.service runs it).

gthread workers: the status-callback fast path batches the callbacks that arrive together on
one worker's threads (README, "Webhooks"). Each thread may hold a database connection: keep
workers x threads within PostgreSQL's max_connections. nginx (deploy/nginx/herald.conf) sits
in front and hands over only whole requests, so slow clients never hold a thread here.
"""

import os

bind = os.environ.get("HERALD_BIND", "unix:/run/herald/gunicorn.sock")
workers = int(os.environ.get("HERALD_WEB_WORKERS", "4"))
worker_class = "gthread"
threads = int(os.environ.get("HERALD_WEB_THREADS", "16"))
timeout = 60  # nginx's proxy_read_timeout is 70 s: gunicorn gives up first
graceful_timeout = 30
keepalive = 5
# Bounds on the request head (nginx has its own, smaller ones).
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 16380
# Only nginx on this machine may say the request came over https (X-Forwarded-Proto).
forwarded_allow_ips = os.environ.get("HERALD_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
accesslog = os.environ.get("HERALD_ACCESS_LOG", "-")
errorlog = "-"
