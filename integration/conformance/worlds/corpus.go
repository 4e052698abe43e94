package worlds

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Corpus reads the seeds of FuzzWorlds's corpus files in dir (go test fuzz
// v1, one uint64 each); a missing dir is no seed.
func Corpus(dir string) ([]uint64, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	sort.Strings(files)
	var out []uint64
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "uint64(") || !strings.HasSuffix(lines[1], ")") {
			return nil, fmt.Errorf("%s: not a corpus file of one uint64", f)
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(lines[1], "uint64("), ")"), 0, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out = append(out, n)
	}
	return out, nil
}
