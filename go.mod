module github.com/callcoach/callcoach

go 1.26.0

require (
	github.com/google/uuid v1.6.0
	github.com/percipia/eslgo v1.5.2
)

require github.com/stretchr/testify v1.12.1 // indirect
