-- FreeBSD netdump: a Wireshark/tshark dissector for the UDP protocol a
-- panicking FreeBSD kernel sends its crash dump with (netdump(4), 12.x's
-- netdump and 13+'s debugnet), and netdumpd's acks. Wireshark's own
-- "netdump" dissector is Red Hat's netdump, a different protocol.
--
-- The client sends every message from UDP port 20024:
-- the HERALD to the server's port 20023, everything after it to the port
-- the server answered from; every ack goes to 20024. The layout is the
-- project's docs/protocol.md, sections 1 and 2.
--
-- Use it once:     tshark -X lua_script:freebsd-netdump.lua -r dump.pcap
-- or install it:   cp freebsd-netdump.lua ~/.local/lib/wireshark/plugins/
-- Display filter:  fbsd_netdump, fbsd_netdump.type == 3, fbsd_netdump.ack.seqno == 42

local NETDUMP_PORT = 20023
local NETDUMP_ACKPORT = 20024
local HEADER_SIZE = 24
local ACK_SIZE = 4
local KDH_SIZE = 512
local KDK_HEADER_SIZE = 37

local HERALD, FINISHED, VMCORE, KDH, EKCD_KEY = 1, 2, 3, 4, 5
local message_types = {
  [HERALD] = "HERALD",
  [FINISHED] = "FINISHED",
  [VMCORE] = "VMCORE",
  [KDH] = "KDH",
  [EKCD_KEY] = "EKCD_KEY",
}
local compressions = { [0] = "none", [1] = "gzip", [2] = "zstd" }
local encryptions = { [0] = "none", [1] = "AES-256-CBC", [2] = "ChaCha20" }

local netdump = Proto("fbsd_netdump", "FreeBSD netdump")

local f = {
  type = ProtoField.uint32("fbsd_netdump.type", "Type", base.DEC, message_types),
  seqno = ProtoField.uint32("fbsd_netdump.seqno", "Sequence number", base.DEC),
  offset = ProtoField.uint64("fbsd_netdump.offset", "Offset", base.DEC),
  len = ProtoField.uint32("fbsd_netdump.len", "Payload length", base.DEC),
  aux2 = ProtoField.uint32("fbsd_netdump.aux2", "aux2 (12.x: mh__pad)", base.HEX),
  payload = ProtoField.bytes("fbsd_netdump.payload", "Payload"),
  herald_path = ProtoField.string("fbsd_netdump.herald.path", "Dump path"),
  ack_seqno = ProtoField.uint32("fbsd_netdump.ack.seqno", "Acked sequence number", base.DEC),
  kdh_magic = ProtoField.string("fbsd_netdump.kdh.magic", "Magic"),
  kdh_architecture = ProtoField.string("fbsd_netdump.kdh.architecture", "Architecture"),
  kdh_version = ProtoField.uint32("fbsd_netdump.kdh.version", "Header version", base.DEC),
  kdh_archversion = ProtoField.uint32("fbsd_netdump.kdh.architectureversion", "Architecture version", base.DEC),
  kdh_dumplength = ProtoField.uint64("fbsd_netdump.kdh.dumplength", "Dump length", base.DEC),
  kdh_dumptime = ProtoField.uint64("fbsd_netdump.kdh.dumptime", "Dump time (seconds since 1970)", base.DEC),
  kdh_dumpkeysize = ProtoField.uint32("fbsd_netdump.kdh.dumpkeysize", "Dump key size", base.DEC),
  kdh_blocksize = ProtoField.uint32("fbsd_netdump.kdh.blocksize", "Block size", base.DEC),
  kdh_hostname = ProtoField.string("fbsd_netdump.kdh.hostname", "Host name"),
  kdh_versionstring = ProtoField.string("fbsd_netdump.kdh.versionstring", "Version string"),
  kdh_panicstring = ProtoField.string("fbsd_netdump.kdh.panicstring", "Panic string"),
  kdh_compression = ProtoField.uint8("fbsd_netdump.kdh.compression", "Compression", base.DEC, compressions),
  kdh_dumpextent = ProtoField.uint64("fbsd_netdump.kdh.dumpextent", "Dump extent", base.DEC),
  kdh_parity = ProtoField.uint32("fbsd_netdump.kdh.parity", "Parity", base.HEX),
  kdh_parity_ok = ProtoField.bool("fbsd_netdump.kdh.parity_ok", "Parity verifies"),
  kdk_encryption = ProtoField.uint8("fbsd_netdump.ekcd.encryption", "Encryption", base.DEC, encryptions),
  kdk_iv = ProtoField.bytes("fbsd_netdump.ekcd.iv", "IV"),
  kdk_keysize = ProtoField.uint32("fbsd_netdump.ekcd.encryptedkeysize", "Encrypted key size", base.DEC),
  kdk_key = ProtoField.bytes("fbsd_netdump.ekcd.encryptedkey", "Encrypted key"),
}
netdump.fields = {}
for _, field in pairs(f) do
  table.insert(netdump.fields, field)
end

local e = {
  short = ProtoExpert.new("fbsd_netdump.short", "Shorter than a netdump header (24 bytes) or ack (4 bytes)",
    expert.group.MALFORMED, expert.severity.ERROR),
  len_mismatch = ProtoExpert.new("fbsd_netdump.len_mismatch", "Payload length field differs from the bytes that follow",
    expert.group.MALFORMED, expert.severity.WARN),
  bad_parity = ProtoExpert.new("fbsd_netdump.kdh.bad_parity", "Kernel dump header parity does not verify",
    expert.group.MALFORMED, expert.severity.WARN),
  long_ack = ProtoExpert.new("fbsd_netdump.ack.long", "Ack longer than 4 bytes: 13+ drops it, 12.x reads its first 4",
    expert.group.PROTOCOL, expert.severity.NOTE),
}
netdump.experts = { e.short, e.len_mismatch, e.bad_parity, e.long_ack }

-- A C string inside `range`: up to its first NUL, or all of it (never past the field).
local function c_string(range)
  local text = range:raw()
  local nul = text:find("\0", 1, true)
  return nul and text:sub(1, nul - 1) or text
end

local function add_text(tree, field, range)
  tree:add(field, range, c_string(range))
end

local function dissect_kdh(payload, tree)
  local kdh = tree:add(netdump, payload(0, KDH_SIZE), "Kernel dump header")
  add_text(kdh, f.kdh_magic, payload(0, 20))
  add_text(kdh, f.kdh_architecture, payload(20, 12))
  kdh:add(f.kdh_version, payload(32, 4))
  kdh:add(f.kdh_archversion, payload(36, 4))
  kdh:add(f.kdh_dumplength, payload(40, 8))
  kdh:add(f.kdh_dumptime, payload(48, 8))
  kdh:add(f.kdh_dumpkeysize, payload(56, 4))
  kdh:add(f.kdh_blocksize, payload(60, 4))
  add_text(kdh, f.kdh_hostname, payload(64, 64))
  add_text(kdh, f.kdh_versionstring, payload(128, 192))
  add_text(kdh, f.kdh_panicstring, payload(320, 175))
  kdh:add(f.kdh_compression, payload(495, 1))
  kdh:add(f.kdh_dumpextent, payload(496, 8))
  kdh:add(f.kdh_parity, payload(508, 4))
  -- dump_init_header makes the XOR of all 128 big-endian words zero.
  local parity = 0
  for at = 0, KDH_SIZE - 4, 4 do
    parity = bit.bxor(parity, payload(at, 4):uint())
  end
  local ok = kdh:add(f.kdh_parity_ok, parity == 0)
  ok:set_generated()
  if parity ~= 0 then ok:add_proto_expert_info(e.bad_parity) end
end

local function dissect_key(payload, tree)
  local key = tree:add(netdump, payload(), "Kernel dump key")
  key:add(f.kdk_encryption, payload(0, 1))
  key:add(f.kdk_iv, payload(1, 32))
  key:add(f.kdk_keysize, payload(33, 4))
  local size = payload(33, 4):uint()
  if size > 0 and KDK_HEADER_SIZE + size <= payload:len() then
    key:add(f.kdk_key, payload(KDK_HEADER_SIZE, size))
  end
end

-- The protocol's subtree, or nil (and a warning on it) when the datagram is shorter than `minimum`.
local function open_tree(buffer, tree, title, minimum)
  local root = tree:add(netdump, buffer(), title)
  if buffer:len() < minimum then
    root:add_proto_expert_info(e.short)
    return nil
  end
  return root
end

local function dissect_message(buffer, pinfo, tree)
  local root = open_tree(buffer, tree, "FreeBSD netdump message", HEADER_SIZE)
  if root == nil then return end
  local kind = buffer(0, 4):uint()
  local seqno = buffer(4, 4):uint()
  local len = buffer(16, 4):uint()
  root:add(f.type, buffer(0, 4))
  root:add(f.seqno, buffer(4, 4))
  root:add(f.offset, buffer(8, 8))
  local len_item = root:add(f.len, buffer(16, 4))
  root:add(f.aux2, buffer(20, 4))
  local name = message_types[kind] or ("type " .. kind)
  local info = string.format("%s seq=%d", name, seqno)
  local available = buffer:len() - HEADER_SIZE
  if len ~= available then len_item:add_proto_expert_info(e.len_mismatch) end
  if available > 0 then
    local payload = buffer(HEADER_SIZE, math.min(len, available))
    if kind == HERALD then
      add_text(root, f.herald_path, payload)
      info = info .. " path=" .. c_string(payload)
    elseif kind == KDH and payload:len() >= KDH_SIZE then
      dissect_kdh(payload, root)
    elseif kind == EKCD_KEY and buffer(8, 8):uint64() == UInt64(0) and payload:len() >= KDK_HEADER_SIZE then
      -- The key blob, padded to 4 KiB, spans several packets: its header is in the first.
      dissect_key(payload, root)
    else
      root:add(f.payload, payload)
    end
  end
  if kind == VMCORE or kind == EKCD_KEY then
    info = info .. string.format(" offset=%s len=%d", tostring(buffer(8, 8):uint64()), len)
  end
  pinfo.cols.info:set(info)
end

local function dissect_ack(buffer, pinfo, tree)
  local root = open_tree(buffer, tree, "FreeBSD netdump ack", ACK_SIZE)
  if root == nil then return end
  root:add(f.ack_seqno, buffer(0, 4))
  if buffer:len() > ACK_SIZE then root:add_proto_expert_info(e.long_ack) end
  pinfo.cols.info:set(string.format("ACK seq=%d", buffer(0, 4):uint()))
end

function netdump.dissector(buffer, pinfo, tree)
  pinfo.cols.protocol:set("NETDUMP")
  if pinfo.dst_port == NETDUMP_ACKPORT then
    dissect_ack(buffer, pinfo, tree)
  else
    dissect_message(buffer, pinfo, tree)
  end
  return buffer:len()
end

local udp_port = DissectorTable.get("udp.port")
udp_port:add(NETDUMP_PORT, netdump)
udp_port:add(NETDUMP_ACKPORT, netdump)
