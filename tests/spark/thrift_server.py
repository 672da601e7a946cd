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
    tmp = data_dir / "tmp"
    log4j = Path(__file__).resolve().parents[2] / "dbt_project" / "spark" / "log4j2.properties"
    java_opts = f"-Dderby.system.home={data_dir} -Djava.io.tmpdir={tmp} -Dlog4j2.configurationFile={log4j}"
    confs = {
        "spark.sql.warehouse.dir": str(data_dir / "warehouse"),
        "spark.local.dir": str(tmp),
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.sql.parquet.mergeSchema": "true",
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.sql.shuffle.partitions": os.environ.get("SPARK_SHUFFLE_PARTITIONS", "4"),
    }
    hive = {"hive.server2.thrift.bind.host": "127.0.0.1", "hive.server2.thrift.port": str(port)}
    command = [
        str(pyspark_home() / "bin" / "spark-submit"),
        *("--class", "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"),
        *("--name", "posthog-context-thrift", "--master", master),
        *("--driver-memory", os.environ.get("SPARK_DRIVER_MEMORY", "1g")),
        *("--driver-java-options", java_opts),
    ]
    for key, value in confs.items():
        command += ["--conf", f"{key}={value}"]
    for key, value in hive.items():
        command += ["--hiveconf", f"{key}={value}"]
    return [*command, "spark-internal"]


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def spark_thrift_server(data_dir: Path, timeout: float = 300) -> Iterator[ThriftServer]:
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
