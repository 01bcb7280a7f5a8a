# The image the k8s manifests run. (No Docker engine on the dev machines; built in CI elsewhere.)
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY artifactsvc ./artifactsvc
RUN pip install --no-cache-dir . && useradd --uid 10001 artifactsvc
USER 10001
EXPOSE 8080
ENTRYPOINT ["artifactsvc"]
CMD ["serve", "--host", "0.0.0.0"]
