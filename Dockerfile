# Image for the Centrala web and pbx controller services (see docker-compose.yml).
FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg tzdata && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/centrala
COPY . .
RUN pip install --no-cache-dir '.[prod]'
ENV CENTRALA_DATA_DIR=/var/lib/centrala
VOLUME /var/lib/centrala
