// api is one of go-multi's two main packages; Tempa builds it with `--go-main cmd/api`.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"

	"example.com/go-multi/internal/version"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from tempa (%s api)\n", version.Name)
	})
	log.Fatal(http.ListenAndServe(":"+port, nil))
}
