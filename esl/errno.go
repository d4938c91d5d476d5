package esl

import "syscall"

// errTooManyFiles is the accept error a server should wait out, not die of.
const errTooManyFiles = syscall.EMFILE
