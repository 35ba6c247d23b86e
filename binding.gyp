{
  "targets": [
    {
      "target_name": "netdump_native",
      "sources": ["native/addon.c", "native/napi_util.c", "native/packet_addon.c", "native/packet_socket.c", "native/udp_addon.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
