//go:build ignore

// sumcheck verifies every module in a module cache's download folder against a go.sum: the
// hash of each zip (its .ziphash) and of each go.mod, as the checksum database would have.
// ci/install-check.sh runs it after an offline `go install` (GOSUMDB=off), so the check needs
// no network and trusts nothing but the repository's go.sum.
//
//	go run ci/install-check/sumcheck.go -sum go.sum -cache DIR/cache/download -skip MODULE
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
)

func main() {
	sum := flag.String("sum", "go.sum", "the go.sum to trust")
	cache := flag.String("cache", "", "the download cache to verify ($GOMODCACHE/cache/download)")
	skip := flag.String("skip", "", "a module path to leave out (the one under test, in no go.sum)")
	flag.Parse()

	want := map[string]string{} // "path version" or "path version/go.mod" -> h1:...
	f, err := os.Open(*sum)
	if err != nil {
		fail("%v", err)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if w := strings.Fields(sc.Text()); len(w) == 3 {
			want[w[0]+" "+w[1]] = w[2]
		}
	}
	f.Close()

	zips, mods := 0, 0
	err = filepath.WalkDir(*cache, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Base(filepath.Dir(p)) != "@v" {
			return err
		}
		rel, _ := filepath.Rel(*cache, filepath.Dir(filepath.Dir(p)))
		path, err := module.UnescapePath(filepath.ToSlash(rel))
		if err != nil || path == *skip {
			return nil
		}
		name := filepath.Base(p)
		var key, got string
		switch {
		case strings.HasSuffix(name, ".ziphash"):
			v, _ := module.UnescapeVersion(strings.TrimSuffix(name, ".ziphash"))
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			key, got = path+" "+v, strings.TrimSpace(string(b))
			zips++
		case strings.HasSuffix(name, ".mod"):
			v, _ := module.UnescapeVersion(strings.TrimSuffix(name, ".mod"))
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
				return io.NopCloser(bytes.NewReader(b)), nil
			})
			if err != nil {
				return err
			}
			key, got = path+" "+v+"/go.mod", h
			mods++
		default:
			return nil
		}
		switch w, ok := want[key]; {
		case !ok:
			return fmt.Errorf("%s: not in %s", key, *sum)
		case w != got:
			return fmt.Errorf("%s: hash %s, but %s says %s", key, got, *sum, w)
		}
		return nil
	})
	if err != nil {
		fail("%v", err)
	}
	if zips == 0 {
		fail("no module zip in %s", *cache)
	}
	fmt.Printf("%d module zips and %d go.mod files match %s\n", zips, mods, *sum)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "sumcheck: "+format+"\n", args...)
	os.Exit(1)
}
