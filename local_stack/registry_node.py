"""A Schema Registry with the Confluent-compatible API for the local stack: Apicurio Registry
2.4.2.Final, assembled from Maven Central and run on loopback like the Kafka node.

Why Apicurio and this version: Karapace (the other open-source registry with that API) is not
published on PyPI; Apicurio Registry 3.x needs Java 21 and modules Maven Central does not serve;
2.6.x needs `apicurio-registry-schema-util-provider` 2.6.x, not served either. 2.4.2.Final's jars
all resolve, but Maven Central holds the application un-built (a Quarkus app), so it is built
here once: a small Maven project depends on `apicurio-registry-app`, unpacks its
`application.properties`, and runs `quarkus-maven-plugin:build`; the runnable jar is cached
outside the repository (like Kafka's jars). Two gaps are filled: the JSON Schema validator
(`org.everit.json.schema`, only on a third-party repository) is left out, so JSON Schema artifacts
are not validated (Avro is what the pipeline registers); and the build step that lists the
registry's dynamic settings (`apicurio-common-app-components-config-index-deployment`, not on
Maven Central) is replaced by an empty list, so settings cannot be changed at run time.
Storage: H2 in a file under the stack's state directory, so schema ids survive a restart.
"""

import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from local_stack.exceptions import StackError
from local_stack.processes import ServiceProcess, stop_pid
from local_stack.settings import StackSettings
from plumbing.settings import ENV_PREFIX, ServiceSettings

__all__ = ["RegistryNode", "RegistrySettings", "runner_jar"]

CCOMPAT_PATH = "/apis/ccompat/v7"

_POM = """\
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>agentfeedback.local</groupId>
  <artifactId>schema-registry</artifactId>
  <version>@VERSION@</version>
  <packaging>jar</packaging>
  <properties>
    <maven.compiler.source>17</maven.compiler.source>
    <maven.compiler.target>17</maven.compiler.target>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencyManagement>
    <dependencies>
      <dependency>
        <groupId>io.apicurio</groupId>
        <artifactId>apicurio-registry</artifactId>
        <version>@VERSION@</version>
        <type>pom</type>
        <scope>import</scope>
      </dependency>
    </dependencies>
  </dependencyManagement>
  <dependencies>
    <dependency>
      <groupId>io.apicurio</groupId>
      <artifactId>apicurio-registry-app</artifactId>
      <version>@VERSION@</version>
      <exclusions>
        <exclusion>
          <groupId>com.github.everit-org.json-schema</groupId>
          <artifactId>org.everit.json.schema</artifactId>
        </exclusion>
        <exclusion>
          <groupId>io.apicurio</groupId>
          <artifactId>apicurio-common-app-components-config-index</artifactId>
        </exclusion>
      </exclusions>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>3.6.1</version>
        <executions>
          <execution>
            <id>app-properties</id>
            <phase>generate-resources</phase>
            <goals><goal>unpack</goal></goals>
            <configuration>
              <artifactItems>
                <artifactItem>
                  <groupId>io.apicurio</groupId>
                  <artifactId>apicurio-registry-app</artifactId>
                  <version>@VERSION@</version>
                  <includes>application.properties</includes>
                  <outputDirectory>${project.build.outputDirectory}</outputDirectory>
                </artifactItem>
              </artifactItems>
            </configuration>
          </execution>
        </executions>
      </plugin>
      <plugin>
        <groupId>io.quarkus</groupId>
        <artifactId>quarkus-maven-plugin</artifactId>
        <version>@QUARKUS_VERSION@</version>
        <executions><execution><goals><goal>build</goal></goals></execution></executions>
      </plugin>
    </plugins>
  </build>
</project>
"""

_PRODUCER = """\
package agentfeedback.local;

import io.apicurio.common.apps.config.DynamicConfigPropertyList;
import java.util.List;
import javax.enterprise.inject.Produces;
import javax.inject.Singleton;

/** What the config-index build step would generate (not on Maven Central): no dynamic setting. */
@Singleton
public class DynamicConfigPropertyListProducer {
    @Produces
    @Singleton
    public DynamicConfigPropertyList dynamicConfigPropertyList() {
        return new DynamicConfigPropertyList(List.of());
    }
}
"""

# The registry's jars hold no bean index of their own: Quarkus is told to index them.
_INDEXED = (
    "apicurio-registry-app",
    "apicurio-registry-common",
    "apicurio-registry-utils-kafka",
    "apicurio-registry-utils-import-export",
    "apicurio-registry-schema-util-provider",
    "apicurio-common-app-components-auth",
    "apicurio-common-app-components-core",
    "apicurio-common-app-components-logging",
    "apicurio-common-app-components-storage-spi",
    "apicurio-common-app-components-util",
)


class RegistrySettings(ServiceSettings):
    """Port, version and memory of the local schema registry (FEEDBACK_REGISTRY_*)."""

    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}REGISTRY_")

    state_dir: Path | None = Field(
        None, description="Where its H2 database lives (default: FEEDBACK_STACK_STATE_DIR's)."
    )
    cache_dir: Path | None = Field(
        None, description="Where the built jar is kept (default: FEEDBACK_STACK_CACHE_DIR's)."
    )
    host: str = "127.0.0.1"
    port: int = Field(18081, ge=1, le=65535, description="HTTP port of the registry.")
    version: str = Field("2.4.2.Final", description="io.apicurio:apicurio-registry-app version.")
    quarkus_version: str = Field("2.16.4.Final", description="The Quarkus of that version.")
    heap: str = Field("256m", description="The registry JVM's -Xmx.")
    start_timeout_s: float = Field(180.0, gt=0, description="How long to wait for health.")

    @property
    def url(self) -> str:
        """The Confluent-compatible API (what FEEDBACK_WIRE_REGISTRY_URL takes)."""
        return f"http://{self.host}:{self.port}{CCOMPAT_PATH}"


def runner_jar(settings: RegistrySettings) -> Path:
    """The registry's runnable jar: built with Maven once, then read from the cache."""
    cache_dir = settings.cache_dir or StackSettings().cache_dir
    work = cache_dir / f"apicurio-registry-{settings.version}"
    jar = work / "target" / f"schema-registry-{settings.version}-runner.jar"
    if jar.exists() and (work / "target" / "lib").is_dir():
        return jar
    if shutil.which("mvn") is None:
        raise StackError(
            "Maven (mvn) is not installed; it builds the schema registry from Maven Central. "
            "Install it (Debian: apt-get install -y maven) and retry."
        )
    source = work / "src" / "main"
    (source / "java" / "agentfeedback" / "local").mkdir(parents=True, exist_ok=True)
    (source / "resources" / "META-INF").mkdir(parents=True, exist_ok=True)
    (work / "pom.xml").write_text(
        _POM.replace("@VERSION@", settings.version).replace(
            "@QUARKUS_VERSION@", settings.quarkus_version
        )
    )
    (source / "java" / "agentfeedback" / "local" / "DynamicConfigPropertyListProducer.java")\
        .write_text(_PRODUCER)  # fmt: skip
    index = "".join(
        f"quarkus.index-dependency.i{n}.group-id=io.apicurio\n"
        f"quarkus.index-dependency.i{n}.artifact-id={artifact}\n"
        for n, artifact in enumerate(_INDEXED)
    )
    (source / "resources" / "META-INF" / "microprofile-config.properties").write_text(index)
    result = subprocess.run(
        ["mvn", "-q", "-B", "-f", str(work / "pom.xml"), "package", "-DskipTests"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0 or not jar.exists():
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        raise StackError(
            f"Maven could not build Apicurio Registry {settings.version}.\n{tail}\n"
            "Check that Maven Central is reachable."
        )
    return jar


class RegistryNode:
    """Runs the registry jar on loopback with its H2 database under the state directory."""

    def __init__(self, settings: RegistrySettings | None = None) -> None:
        self.settings = settings or RegistrySettings()
        state_dir = self.settings.state_dir or StackSettings().state_dir
        self.home = state_dir / "registry"
        self.process = ServiceProcess(
            "registry", self.home / "registry.pid", self.home / "registry.log"
        )

    @property
    def url(self) -> str:
        return self.settings.url

    def start(self) -> int:
        jar = runner_jar(self.settings)
        if shutil.which("java") is None:
            raise StackError("Java is not installed (Debian: apt-get install -y openjdk-17-jre)")
        self.home.mkdir(parents=True, exist_ok=True)
        database = (self.home / "registry").resolve()
        env = {
            "QUARKUS_HTTP_HOST": self.settings.host,
            "HTTP_PORT": str(self.settings.port),
            "REGISTRY_DATASOURCE_URL": f"jdbc:h2:file:{database}",
            # No error reporting service to talk to.
            "QUARKUS_LOG_CATEGORY__IO_SENTRY__LEVEL": "ERROR",
        }
        argv = ["java", self._marker, f"-Xmx{self.settings.heap}", "-XX:+UseSerialGC", "-jar"]
        return self.process.start([*argv, str(jar)], env)

    @property
    def _marker(self) -> str:
        """A system property naming this node's directory: tells its JVM from any other
        process (a pid file outlives its process, and the pid can be reused)."""
        return f"-Dagentfeedback.registry.home={self.home.resolve()}"

    def running_pids(self) -> list[int]:
        """Every live process of this node (its JVM), whether or not the pid file names it."""
        pids = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
                state = (proc / "stat").read_text().rsplit(")", 1)[-1].split()[0]
            except OSError:  # gone meanwhile, or not ours to read
                continue
            if self._marker.encode() in argv and state != "Z":
                pids.append(int(proc.name))
        return pids

    def healthy(self, timeout_s: float = 2.0) -> bool:
        """True when the Confluent-compatible API answers."""
        try:
            with urllib.request.urlopen(f"{self.url}/subjects", timeout=timeout_s) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def up(self) -> bool:
        """Start the registry unless it runs, and wait until it answers. False: it ran already."""
        if self.process.pid is not None and self.healthy():
            return False
        if self.process.pid is None:
            self.start()
        try:
            self._wait_healthy()
        except BaseException:
            self.down()  # a registry that never answered is not left running
            raise
        return True

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.settings.start_timeout_s
        while time.monotonic() < deadline:
            if self.healthy():
                return
            if self.process.exited_early():
                raise StackError(f"the schema registry exited:\n{self.process.log_tail()}")
            time.sleep(0.5)
        raise StackError(
            f"the schema registry did not answer within {self.settings.start_timeout_s} s:\n"
            f"{self.process.log_tail()}"
        )

    def down(self, timeout_s: float = 20.0) -> bool:
        """Stop it (SIGTERM, then SIGKILL after `timeout_s`). True if it was running.

        The pid file is trusted only when it names a registry JVM (a stale file's pid may
        belong to another process by now): this node's, or one that runs the registry jar
        without the marker (started before the marker existed). A JVM of this node the file
        does not name (the file lost, or overwritten by a second start) is stopped too.
        """
        recorded = self.process.pid
        pids = self.running_pids()
        ours = recorded is not None and (recorded in pids or self._runs_the_jar(recorded))
        if ours:
            self.process.stop(timeout_s)
        else:
            self.process.pid_file.unlink(missing_ok=True)
        for pid in self.running_pids():
            stop_pid(pid, timeout_s)
        return ours or bool(pids)

    def _runs_the_jar(self, pid: int) -> bool:
        jar = f"schema-registry-{self.settings.version}-runner.jar"
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        return any(arg.endswith(jar.encode()) for arg in argv)

    def __enter__(self) -> "RegistryNode":
        """Started and answering; stopped again when the `with` block ends, however it ends."""
        self.up()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.down()
