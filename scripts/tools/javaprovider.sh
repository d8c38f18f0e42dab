# shellcheck shell=bash
# javaprovider.sh: the Apache Dubbo Java test provider (test/java-provider,
# org.apache.dubbo:dubbo 3.3.6 with Curator 5 and nacos-client 2.5.1, Java
# 17), built once with Maven from Maven Central into
#   $DUBBOMESH_CACHE/tools/javaprovider-<key>/
# where <key> hashes the Maven project's files, as internal/testenv computes
# it (javaprovider_key). Exports DUBBOMESH_JAVA_PROVIDER, the launcher
# script there (it runs java with the jar and lib/* on the class path and
# passes its arguments and $JAVA_OPTS). Cold: about 1 min (Maven downloads
# ~55 MB into $DUBBOMESH_CACHE/m2).

# javaprovider_key hashes the contents of the project's files (no
# target/), taken in the byte order of their paths (./pom.xml, ./src/...).
javaprovider_key() {
  (cd test/java-provider && find . -type f -not -path './target/*' -print | LC_ALL=C sort \
    | while IFS= read -r f; do cat -- "$f"; done | sha256sum | cut -c1-12)
}

# install_javaprovider builds the project in a copy under $1.tmp and moves
# the result to $1 as its last step.
install_javaprovider() {
  local dir=$1 tmp=$1.tmp
  command -v mvn >/dev/null || apt_install maven
  command -v javac >/dev/null || apt_install openjdk-17-jdk-headless
  rm -rf "$tmp"
  mkdir -p "$tmp"
  cp -r test/java-provider "$tmp/src"
  rm -rf "$tmp/src/target"
  note "building the Java provider into $dir (Maven; about 1 min cold)"
  retry mvn -B -q -f "$tmp/src/pom.xml" -Dmaven.repo.local="$DUBBOMESH_CACHE/m2" -Dmaven.test.skip=true package \
    || die "mvn package in test/java-provider failed"
  mv "$tmp/src/target/java-provider-1.jar" "$tmp/java-provider.jar"
  mv "$tmp/src/target/lib" "$tmp/lib"
  rm -rf "$tmp/src"
  cat >"$tmp/java-provider" <<'LAUNCHER'
#!/bin/sh
# Runs dubbomesh's Java test provider: java-provider --registry=URL [--name=value...]
d=$(dirname "$0")
# shellcheck disable=SC2086
exec java $JAVA_OPTS -cp "$d/java-provider.jar:$d/lib/*" dubbomesh.javaprovider.Main "$@"
LAUNCHER
  chmod +x "$tmp/java-provider"
  rm -rf "$dir"
  mv "$tmp" "$dir"
}

# ensure_javaprovider builds the provider when missing and exports
# DUBBOMESH_JAVA_PROVIDER.
ensure_javaprovider() {
  if [[ -n ${DUBBOMESH_JAVA_PROVIDER:-} ]]; then
    [[ -x $DUBBOMESH_JAVA_PROVIDER ]] || die "DUBBOMESH_JAVA_PROVIDER=$DUBBOMESH_JAVA_PROVIDER is not executable"
    note "java provider: $DUBBOMESH_JAVA_PROVIDER (from DUBBOMESH_JAVA_PROVIDER)"
    export DUBBOMESH_JAVA_PROVIDER
    return
  fi
  local dir
  dir=$TOOLS_DIR/javaprovider-$(javaprovider_key) || die "cannot hash test/java-provider"
  if [[ ! -x $dir/java-provider ]]; then
    locked javaprovider javaprovider_build_once "$dir"
  fi
  [[ -x $dir/java-provider ]] || die "java provider missing after the build: $dir"
  export DUBBOMESH_JAVA_PROVIDER=$dir/java-provider
  note "java provider: $DUBBOMESH_JAVA_PROVIDER"
}

# javaprovider_build_once builds into $1 unless a run that held the lock
# before has done it.
javaprovider_build_once() {
  [[ -x $1/java-provider ]] || install_javaprovider "$1"
}
