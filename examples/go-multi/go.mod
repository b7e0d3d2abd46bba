module example.com/go-multi

go 1.22
