{
  "targets": [
    {
      "target_name": "ingot_sys",
      "sources": ["native/ingot_sys.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["-ldeflate"]
    }
  ]
}
