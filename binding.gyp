{
  "variables": {
    "have_libpcap%": "<!(node scripts/has-libpcap.mjs)"
  },
  "targets": [
    {
      "target_name": "netdump_native",
      "sources": ["native/addon.c", "native/interface_napi.c", "native/napi_util.c", "native/packet_addon.c", "native/packet_socket.c", "native/rx_ring.c", "native/udp_addon.c", "native/capture_file.c", "native/stop_signals.c", "native/dir_addon.c", "native/clock.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [
        ["have_libpcap==1", {
          "sources": ["native/pcap_addon.c"],
          "defines": ["HAVE_LIBPCAP=1"],
          "libraries": ["-lpcap"]
        }]
      ]
    }
  ]
}
