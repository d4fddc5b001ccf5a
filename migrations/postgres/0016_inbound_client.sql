-- The client that handed a received message to the mail chain (the SMTP peer, or what Postfix's XFORWARD
-- names over LMTP), for SPF: its address and HELO name; empty when unknown.
ALTER TABLE inbound_messages ADD COLUMN client_ip TEXT NOT NULL DEFAULT '';
ALTER TABLE inbound_messages ADD COLUMN client_helo TEXT NOT NULL DEFAULT '';
