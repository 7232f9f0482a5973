# Sourced by scripts/test, scripts/dev and scripts/bench: make `node` a Node.js >= 22.
# wrangler 4.87 and later (and so real workerd with Python 3.14) need Node 22; Node 20 is past
# its end of life. Where the machine's node is older, Node 22 comes from the npm registry
# (package node-linux-<arch>, a plain binary) into .tools/, and goes first on PATH for this
# script and everything it starts (npm, wrangler, vitest, the harnesses).
NODE_WANTED_MAJOR=22
NODE_PACKAGE_VERSION=22.23.5

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ "$(node_major)" -lt "$NODE_WANTED_MAJOR" ]; then
  case "$(uname -m)" in
    x86_64) node_arch=x64 ;;
    aarch64 | arm64) node_arch=arm64 ;;
    *) echo "no Node $NODE_WANTED_MAJOR package for $(uname -m): install Node >= 22" >&2; exit 1 ;;
  esac
  node_dir="$PWD/.tools/node-$NODE_PACKAGE_VERSION"
  if [ ! -x "$node_dir/node_modules/node-linux-$node_arch/bin/node" ]; then
    echo "node $(node --version 2>/dev/null || echo missing) is older than $NODE_WANTED_MAJOR: installing Node $NODE_PACKAGE_VERSION into .tools/"
    npm install --silent --no-audit --no-fund --no-save --prefix "$node_dir" \
      "node-linux-$node_arch@$NODE_PACKAGE_VERSION"
  fi
  export PATH="$node_dir/node_modules/node-linux-$node_arch/bin:$PATH"
fi
