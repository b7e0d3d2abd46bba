// worker is go-multi's second main package: with two, Tempa asks which one to build.
package main

import (
	"fmt"

	"example.com/go-multi/internal/version"
)

func main() {
	fmt.Printf("%s worker: nothing to do\n", version.Name)
}
