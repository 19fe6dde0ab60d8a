"""HTTP plumbing shared by every route: error bodies and handlers, middleware, conditional requests,
list parameters and the OpenAPI response tables. Nothing here reads or writes a task itself."""
