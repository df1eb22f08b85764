# Remedy Monitor: the single-process service on SQLite, data in a volume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    MONITOR_DATABASE_URL=sqlite:////data/monitor.db \
    MONITOR_CONFIG=/etc/remedy-monitor/sources.yaml

WORKDIR /src
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY alerts ./alerts
COPY migrations ./migrations
RUN pip install --no-cache-dir . && rm -rf /src

COPY sources.yaml /etc/remedy-monitor/sources.yaml
RUN useradd --system --uid 10001 --home-dir /data monitor && mkdir -p /data && chown monitor /data
USER monitor
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
CMD ["monitor", "run"]
