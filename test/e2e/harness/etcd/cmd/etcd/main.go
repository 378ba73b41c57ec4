// Command etcd is etcd's own server entry point (the same call as etcd's
// server/main.go), built from the version pinned in ../../go.mod.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
