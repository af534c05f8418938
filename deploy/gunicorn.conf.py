"""gunicorn settings for one Yingji server instance: `gunicorn -c deploy/gunicorn.conf.py`.

One worker process with many threads: Socket.IO keeps a board's session in the process
that accepted it (`-w 2` breaks long-polling with "Invalid session"), and an open board
holds one thread for as long as it is connected (simple-websocket, async_mode="threading").

The worker model (issue 15 item 1): gthread, with a thread for every board the app admits
(YINGJI_SOCKETS_MAX) on top of the threads for HTTP (YINGJI_THREADS). The app's door admits
a WebSocket only with a login session or an API token at its handshake (a stranger's gets 401
before any upgrade and holds nothing), at most YINGJI_SOCKETS_MAX at once and
YINGJI_SOCKETS_PER_ADDRESS per client, so the boards can never take the threads HTTP needs.
Idle threads cost memory, not CPU (bench/idle_sockets.py measures 2,000 idle boards);
gevent was not chosen: it monkey-patches psycopg, redis-py, the twilio SDK and APScheduler,
which Flask-SocketIO's maintainer warns about, for no gain once strangers hold nothing.
To serve more boards or survive a restart, run more instances on other ports behind nginx
(ip_hash) and join them with SOCKETIO_MESSAGE_QUEUE=redis://...; see deploy/README.md.

From the environment (the app's own settings, DATABASE_URL etc., come from there too):
  YINGJI_BIND            address:port of this instance              (127.0.0.1:8001)
  YINGJI_THREADS         threads for HTTP (pages, API, 12315)        (200)
  YINGJI_SOCKETS_MAX     the most boards at once (the app's cap too) (2000)
  YINGJI_CONTROL_SOCKET  gunicorn's control socket; one per instance, or the second
                         instance on a machine fails to start       ($RUNTIME_DIRECTORY or
                                                                     the temp folder, by port)
"""
import os
import tempfile

wsgi_app = "wsgi:app"
bind = [os.environ.get("YINGJI_BIND", "127.0.0.1:8001")]
workers = 1
worker_class = "gthread"
# The app (app/config.py) reads YINGJI_SOCKETS_MAX too: it never admits more boards than this.
threads = int(os.environ.get("YINGJI_THREADS", "200")) + int(os.environ.get("YINGJI_SOCKETS_MAX", "2000"))
# gthread keeps idle keep-alive connections on top of the busy threads.
worker_connections = max(1000, 2 * threads)
# An open board never finishes its request: on stop or reload, wait a little, then close
# it; the board reconnects (to the other instance) and resumes from its last number.
graceful_timeout = 10
timeout = 30
errorlog = "-"
loglevel = os.environ.get("YINGJI_LOG_LEVEL", "info")

_port = bind[0].rsplit(":", 1)[-1].replace("/", "_")
control_socket = os.environ.get("YINGJI_CONTROL_SOCKET") or os.path.join(
    os.environ.get("RUNTIME_DIRECTORY") or tempfile.gettempdir(), f"yingji-gunicorn-{_port}.ctl")
