# One image for every service; the Deployment's args choose which one runs.
FROM python:3.11-slim AS build
WORKDIR /app
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir -r requirements.lock
COPY libs ./libs
COPY services ./services
COPY gateway ./gateway
RUN pip install --no-cache-dir --no-deps .

FROM python:3.11-slim
COPY --from=build /usr/local /usr/local
RUN useradd --uid 10001 --no-create-home bpm
USER 10001
EXPOSE 8000 8001 8002 8003 8004
CMD ["uvicorn", "gateway.main:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000"]
