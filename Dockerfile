# One image for the API and the worker (`herald api` / `herald worker`).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md alembic.ini worker.py ./
COPY herald herald
COPY api api
COPY workflows workflows
COPY activities activities
COPY platforms platforms
COPY emulator emulator
COPY migrations migrations
RUN pip install --no-cache-dir .
ENV HERALD_API_HOST=0.0.0.0
CMD ["herald", "api"]
