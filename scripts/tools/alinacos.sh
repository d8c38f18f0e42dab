# shellcheck shell=bash
# alinacos.sh: Alibaba's Nacos 2.3.2 server, for the tests that run against
# the real server beside rnacos. Sourced by scripts/lib.sh.
#
# Alibaba publishes no server module on Maven Central;
# org.jeecgframework.nacos:nacos-console:2.3.2 is a rebuild of its 2.3.2.
# Maven (Debian's package) resolves it and its runtime dependencies
# (test/alinacos/pom.xml) into $TOOLS_DIR/alinacos-$ALINACOS_VERSION/lib
# (~130 jars, ~150 MB); internal/testenv/alinacos.go runs it with java.
ALINACOS_VERSION=2.3.2 # keep internal/testenv.AlinacosVersion in step

# install_alinacos resolves the jars into $1/lib (a temporary directory
# first, so that a failed download leaves nothing half-done).
install_alinacos() {
  local dir=$1 tmp
  [[ -d $dir/lib ]] && return 0 # another run installed it while we waited
  command -v mvn >/dev/null || apt_install maven
  command -v java >/dev/null || apt_install default-jre-headless
  tmp=$dir/lib.tmp
  rm -rf "$tmp"
  mkdir -p "$tmp"
  note "resolving nacos-console $ALINACOS_VERSION with Maven into $dir (first time: ~1 min)"
  retry mvn -B -q -Dstyle.color=never -f test/alinacos/pom.xml \
    -Dmaven.repo.local="$DUBBOMESH_CACHE/m2" \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp" || return 1
  compgen -G "$tmp/nacos-console-$ALINACOS_VERSION.jar" >/dev/null || { note "nacos-console jar missing in $tmp"; return 1; }
  mv "$tmp" "$dir/lib"
}

# ensure_alinacos installs Alibaba's Nacos server once and exports
# DUBBOMESH_ALINACOS (the directory of its jars).
ensure_alinacos() {
  if [[ -n ${DUBBOMESH_ALINACOS:-} ]]; then
    [[ -d $DUBBOMESH_ALINACOS ]] || die "DUBBOMESH_ALINACOS=$DUBBOMESH_ALINACOS is not a directory"
    note "alinacos: $DUBBOMESH_ALINACOS (from DUBBOMESH_ALINACOS)"
    export DUBBOMESH_ALINACOS
    return
  fi
  local dir=$TOOLS_DIR/alinacos-$ALINACOS_VERSION
  if [[ ! -d $dir/lib ]]; then
    mkdir -p "$dir"
    # Maven's local repository is shared with the other Maven-built tools.
    locked maven install_alinacos "$dir" || die "resolving nacos-console $ALINACOS_VERSION failed"
  fi
  export DUBBOMESH_ALINACOS=$dir/lib
  note "alinacos: $DUBBOMESH_ALINACOS ($(find "$dir/lib" -name '*.jar' | wc -l) jars)"
}
