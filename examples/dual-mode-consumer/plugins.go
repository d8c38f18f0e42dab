package main

// The dubbo-go extensions this example needs; see package dubboplugins.
import _ "github.com/dubbomesh/dubbomesh/examples/internal/dubboplugins"
