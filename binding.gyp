{
  "targets": [
    {
      "target_name": "netdump_native",
      "sources": ["native/addon.c", "native/packet_socket.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
