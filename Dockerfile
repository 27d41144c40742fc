FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/causeway ./cmd/causeway

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/causeway /usr/local/bin/causeway
COPY eval/incidents /usr/share/causeway/incidents
USER nobody
EXPOSE 8080
ENTRYPOINT []
CMD ["causeway", "serve"]
