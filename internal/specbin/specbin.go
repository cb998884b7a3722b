package specbin

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
)

// EnvBin names the environment variable holding a prebuilt splitbrain binary; when set,
// [Build] uses it instead of building cmd/splitbrain.
const EnvBin = "SPLITBRAIN_BIN"

// CmdPath is the import path of the splitbrain command.
const CmdPath = "github.com/splitbrain-dev/splitbrain/cmd/splitbrain"

// Build returns the splitbrain binary under test: $SPLITBRAIN_BIN as given (not checked, and
// with a no-op cleanup) when set, else a fresh build of cmd/splitbrain (see [BuildPackage]).
// The cleanup is never nil.
func Build() (path string, cleanup func(), err error) {
	if bin := os.Getenv(EnvBin); bin != "" {
		return bin, func() {}, nil
	}
	return BuildPackage(CmdPath)
}

// BuildPackage builds the main package importPath with `go build` into a new 0700 temporary
// directory and returns the binary, named after the last element of importPath, and a
// cleanup that removes the directory. It ignores $SPLITBRAIN_BIN. The cleanup is never nil.
func BuildPackage(importPath string) (bin string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "sb-specbin-")
	if err != nil {
		return "", func() {}, fmt.Errorf("build %s: %w", importPath, err)
	}
	cleanup = func() { os.RemoveAll(dir) }
	bin = filepath.Join(dir, path.Base(importPath))
	out, err := exec.Command("go", "build", "-o", bin, importPath).CombinedOutput()
	if err != nil {
		cleanup()
		return "", func() {}, fmt.Errorf("build %s: %w\n%s", importPath, err, out)
	}
	return bin, cleanup, nil
}

// Shared copies bin to a new 0755 temporary directory as a 0755 file named "splitbrain", so
// that a peer run as another uid (65534) can execute it: the build directory is 0700. It
// returns the copy and a cleanup that removes the directory; the cleanup is never nil.
func Shared(bin string) (path string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "sb-specs-bin-")
	if err != nil {
		return "", func() {}, fmt.Errorf("share %s: %w", bin, err)
	}
	cleanup = func() { os.RemoveAll(dir) }
	path = filepath.Join(dir, "splitbrain")
	if err := os.Chmod(dir, 0o755); err != nil {
		cleanup()
		return "", func() {}, fmt.Errorf("share %s: %w", bin, err)
	}
	if err := CopyFile(bin, path, 0o755); err != nil {
		cleanup()
		return "", func() {}, fmt.Errorf("share %s: %w", bin, err)
	}
	return path, cleanup, nil
}

// CopyFile copies the file from to the file to, created or truncated, and sets its mode to
// mode whatever the umask.
func CopyFile(from, to string, mode os.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(to, mode)
}
