"""Start and stop a Spark Thrift Server from the pyspark installation, for the thrift-target test.

The pip wheel ships the HiveThriftServer2 jar but no `sbin/start-thriftserver.sh`, so the server is
launched with `spark-submit --class ...HiveThriftServer2` and `SPARK_HOME` set to the pyspark folder.
It shares the project's SPARK_DATA_DIR (metastore, warehouse, tmp) with the session target; only one
JVM may hold the Derby metastore, so the caller must not run a session build while it is up.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def pyspark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ThriftServer:
    host: str
    port: int
    pid: int
    log_path: Path


def thrift_command(data_dir: Path, port: int, master: str = "local[2]") -> list[str]:
    """The spark-submit command line (documented in the README for running it by hand)."""
    home = pyspark_home()
    tmp = data_dir / "tmp"
    java_opts = f"-Dderby.system.home={data_dir} -Djava.io.tmpdir={tmp}"
    return [
        str(home / "bin" / "spark-submit"),
        "--class",
        "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2",
        "--name",
        "posthog-context-thrift",
        "--master",
        master,
        "--driver-memory",
        os.environ.get("SPARK_DRIVER_MEMORY", "1g"),
        "--driver-java-options",
        java_opts,
        "--conf",
        f"spark.sql.warehouse.dir={data_dir / 'warehouse'}",
        "--conf",
        f"spark.local.dir={tmp}",
        "--conf",
        "spark.sql.session.timeZone=UTC",
        "--conf",
        "spark.ui.enabled=false",
        "--conf",
        "spark.sql.parquet.mergeSchema=true",
        "--conf",
        "spark.sql.parquet.outputTimestampType=TIMESTAMP_MICROS",
        "--hiveconf",
        "hive.server2.thrift.bind.host=127.0.0.1",
        "--hiveconf",
        f"hive.server2.thrift.port={port}",
        "spark-internal",
    ]


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def spark_thrift_server(data_dir: Path, timeout: float = 180) -> Iterator[ThriftServer]:
    """Run the server on a free loopback port until the block ends, then stop it by its pid."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "tmp").mkdir(exist_ok=True)
    port = free_port()
    log_path = data_dir / "thrift-server.log"
    env = {**os.environ, "SPARK_HOME": str(pyspark_home()), "SPARK_LOG_DIR": str(data_dir / "logs")}
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            thrift_command(data_dir, port),
            cwd=data_dir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout
        while not _accepts("127.0.0.1", port):
            if proc.poll() is not None:
                raise RuntimeError(
                    f"Spark Thrift Server exited with {proc.returncode}:\n{log_path.read_text()[-4000:]}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"Spark Thrift Server not listening after {timeout:g}s; log: {log_path}")
            time.sleep(0.5)
        yield ThriftServer("127.0.0.1", port, proc.pid, log_path)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
