# Remedy Monitor: the single-process service on SQLite, data in a volume.
#   docker build -t remedy-monitor . && docker run -d -p 8080:8080 -v monitor-data:/data remedy-monitor
# The process runs as USER monitor: the configuration (/etc/remedy-monitor, root-owned) is only
# read; everything written (database, pid file) goes to /data. HTTP (/healthz, /metrics, feeds,
# unsubscribe) listens on MONITOR_HTTP.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    MONITOR_DATABASE_URL=sqlite:////data/monitor.db \
    MONITOR_CONFIG=/etc/remedy-monitor/sources.yaml \
    MONITOR_PID_FILE=/data/monitor.pid \
    MONITOR_HTTP=0.0.0.0:8080

WORKDIR /src
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY alerts ./alerts
COPY migrations ./migrations
RUN pip install --no-cache-dir '.[postgres]' && rm -rf /src

COPY sources.yaml /etc/remedy-monitor/sources.yaml
RUN useradd --system --uid 10001 --home-dir /data monitor && mkdir -p /data && chown monitor /data
USER monitor
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ['MONITOR_HTTP'].rpartition(':')[2]; urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)"]
CMD ["monitor", "run"]
