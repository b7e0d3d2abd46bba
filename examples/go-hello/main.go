// go-hello is Tempa's example Go web app: it listens on $PORT (default 8080), answers
// "hello from tempa (go)" on / and "ok" on /healthz. Its one dependency is vendored.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"

	"example.com/greeting"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, greeting.Hello("go"))
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	log.Printf("go-hello listening on :%s", port)
	log.Fatal(http.ListenAndServe(":"+port, mux))
}
