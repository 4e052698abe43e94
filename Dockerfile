# A static smi-adapter in a distroless, non-root image.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /smi-adapter ./cmd/smi-adapter

FROM gcr.io/distroless/static:nonroot
COPY --from=build /smi-adapter /smi-adapter
USER 65532:65532
ENTRYPOINT ["/smi-adapter"]
