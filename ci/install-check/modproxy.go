//go:build ignore

// modproxy writes a module proxy folder (the GOPROXY protocol, served with file://) holding
// one version of the module in a git checkout: the commit's files, zipped by
// golang.org/x/mod/zip exactly as a public proxy would zip them (nested modules, vendor
// folders and files over the size limits left out), under its pseudo-version.
//
//	go run ci/install-check/modproxy.go -repo . -rev HEAD -out DIR
//
// It prints the version. It is run by ci/install-check.sh, from the main module, so it builds
// with the module's own go.sum and needs no network.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/zip"
)

func main() {
	repo := flag.String("repo", ".", "the git checkout of the module (its root)")
	rev := flag.String("rev", "HEAD", "the commit to publish")
	out := flag.String("out", "", "the proxy folder to write")
	flag.Parse()
	if *out == "" {
		fail("-out is required")
	}
	git := func(args ...string) string {
		b, err := exec.Command("git", append([]string{"-C", *repo}, args...)...).Output()
		if err != nil {
			fail("git %s: %v", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(b))
	}
	commit := git("rev-parse", *rev+"^{commit}")
	secs, err := strconv.ParseInt(git("show", "-s", "--format=%ct", commit), 10, 64)
	if err != nil {
		fail("commit time: %v", err)
	}
	when := time.Unix(secs, 0).UTC()
	gomod, err := exec.Command("git", "-C", *repo, "show", commit+":go.mod").Output()
	if err != nil {
		fail("git show %s:go.mod: %v", commit, err)
	}
	path := modfile.ModulePath(gomod)
	if path == "" {
		fail("%s:go.mod at %s names no module", *repo, commit)
	}

	// The pseudo-version go would compute: v0.0.0-TIME-REV, or after the newest v* tag
	// reachable from the commit, vX.Y.(Z+1)-0.TIME-REV.
	older := ""
	if tags, err := exec.Command("git", "-C", *repo, "tag", "--merged", commit, "--list", "v*").Output(); err == nil {
		for _, t := range strings.Fields(string(tags)) {
			if semver.IsValid(t) && semver.Prerelease(t) == "" && semver.Build(t) == "" && semver.Compare(t, older) > 0 {
				older = t
			}
		}
	}
	major := semver.Major(older)
	if major == "" || major == "v0" || major == "v1" {
		major = ""
	}
	version := module.PseudoVersion(major, older, when, commit[:12])
	mv := module.Version{Path: path, Version: version}

	esc, err := module.EscapePath(path)
	if err != nil {
		fail("%v", err)
	}
	dir := filepath.Join(*out, esc, "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fail("%v", err)
	}
	zf, err := os.Create(filepath.Join(dir, version+".zip"))
	if err != nil {
		fail("%v", err)
	}
	if err := zip.CreateFromVCS(zf, mv, *repo, commit, ""); err != nil {
		fail("zip %s: %v", mv, err)
	}
	if err := zf.Close(); err != nil {
		fail("%v", err)
	}
	info, _ := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, when})
	for name, data := range map[string][]byte{
		version + ".mod":  gomod,
		version + ".info": info,
		"list":            nil, // proxies list tagged versions only
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			fail("%v", err)
		}
	}
	// @latest answers "latest" when no tagged version exists.
	if err := os.WriteFile(filepath.Join(*out, esc, "@latest"), info, 0o644); err != nil {
		fail("%v", err)
	}
	fmt.Println(version)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "modproxy: "+format+"\n", args...)
	os.Exit(1)
}
