"""Resolves the Kafka broker's jars from Maven Central into a cache outside the repository."""

import shutil
import subprocess
from importlib import resources
from pathlib import Path

from local_stack.exceptions import StackError

__all__ = ["kafka_classpath"]


def kafka_classpath(cache_dir: Path, kafka_version: str, log4j_version: str) -> str:
    """The broker's Java classpath; resolved with Maven once, then read from the cache."""
    work = cache_dir / f"kafka-{kafka_version}"
    classpath_file = work / "classpath.txt"
    if classpath_file.exists():
        classpath = classpath_file.read_text().strip()
        if classpath and all(Path(jar).exists() for jar in classpath.split(":")):
            return classpath
    if shutil.which("mvn") is None:
        raise StackError(
            "Maven (mvn) is not installed; it fetches Kafka's jars from Maven Central. "
            "Install it (Debian: apt-get install -y maven) and retry."
        )
    work.mkdir(parents=True, exist_ok=True)
    template = resources.files("local_stack.resources").joinpath("pom.xml").read_text()
    pom = template.replace("@KAFKA_VERSION@", kafka_version).replace(
        "@LOG4J_VERSION@", log4j_version
    )
    (work / "pom.xml").write_text(pom)
    result = subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(work / "pom.xml"),
            "dependency:build-classpath",
            f"-Dmdep.outputFile={classpath_file}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not classpath_file.exists():
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        raise StackError(
            f"Maven could not resolve org.apache.kafka:kafka_2.13:{kafka_version}.\n{tail}\n"
            "Check that Maven Central is reachable, or pick another 4.x with "
            "FEEDBACK_STACK_KAFKA_VERSION."
        )
    return classpath_file.read_text().strip()
