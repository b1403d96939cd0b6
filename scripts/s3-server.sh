# Sourced by the S3 benchmarks (scripts/bench-s3.sh, scripts/bench-ab-s3.sh): the local S3
# server's port, and the AWS CLI and SDK pointed at it. Needs $tmp (removed on exit).

# A free port on loopback for the server.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Once the server (PID $1) was started on 127.0.0.1:$2: stops it and removes $tmp on exit, waits
# until it answers, and exports the credentials and endpoint that trailq and the CLI use.
s3_server_started() {
  s3_server_pid=$1
  s3_server_port=$2
  trap 'kill $s3_server_pid 2>/dev/null; rm -rf "$tmp"' EXIT
  until curl -s "http://127.0.0.1:$s3_server_port/" >/dev/null; do sleep 0.2; done
  export AWS_ACCESS_KEY_ID=AKIABENCHS3 AWS_SECRET_ACCESS_KEY=x AWS_REGION=us-east-1 \
    AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    AWS_EC2_METADATA_DISABLED=true AWS_ENDPOINT_URL_S3="http://127.0.0.1:$s3_server_port"
}

# The AWS CLI of the project's virtual environment, against the server.
aws() { .venv/bin/aws --endpoint-url "http://127.0.0.1:$s3_server_port" "$@"; }
