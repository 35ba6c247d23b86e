// Prints 1 if libpcap's development files are installed (Debian: libpcap-dev),
// else 0. binding.gyp compiles the pcap backend (native/pcap_addon.c, -lpcap)
// only when this prints 1, so an install without libpcap still builds the
// AF_PACKET path. NETDUMP_PCAP=0 builds without it even when present.
import { existsSync } from 'node:fs';

const PCAP_HEADER = '/usr/include/pcap/pcap.h';

const wanted = process.env.NETDUMP_PCAP !== '0';
process.stdout.write(wanted && existsSync(PCAP_HEADER) ? '1' : '0');
