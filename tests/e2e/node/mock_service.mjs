// A mock WeChat served over gRPC by the real wechaty puppet service, for the end-to-end test.
//
// env: PORT (required), TOKEN (required). Listens on 127.0.0.1:PORT without TLS.
// stdin, one JSON command a line:
//   {"cmd": "say", "from": "wxid_alice", "room": "r1@chatroom", "text": "签到", "mentions": []}
//   {"cmd": "join", "room": "r1@chatroom", "members": ["wxid_bob"], "by": "wxid_alice"}
//   {"cmd": "leave", "room": "r1@chatroom", "members": ["wxid_bob"]}
//   {"cmd": "quit"}
// stdout, one JSON line each: {"event": "listening"}, then {"event": "sent", "conversation", "text",
// "mentions"} for every message the bot sends, and {"event": "error", "message"} for a bad command.
process.env.WECHATY_PUPPET_SERVICE_NO_TLS_INSECURE_SERVER = 'true'

import readline from 'node:readline'
import { PuppetMock, mock } from 'wechaty-puppet-mock'
import { PuppetServer } from 'wechaty-puppet-service'

const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')

// Upstream PuppetMock.messageSendText drops the mention ids; keep them, and report every send.
class RecordingPuppet extends PuppetMock {
  async messageSendText (conversationId, text, mentionIdList) {
    out({ event: 'sent', conversation: conversationId, text, mentions: mentionIdList || [] })
    return super.messageSendText(conversationId, text)
  }
}

const mocker = new mock.Mocker()
const puppet = new RecordingPuppet({ mocker })
const contacts = new Map()
const contact = (id) => {
  if (!contacts.has(id)) {
    contacts.set(id, mocker.createContact({ id, name: id.replace(/^wxid_/, '') }))
  }
  return contacts.get(id)
}
const rooms = new Map()
const room = (id, members) => {
  if (!rooms.has(id)) {
    rooms.set(id, mocker.createRoom({ id, topic: '会员群', memberIdList: members }))
  }
  return rooms.get(id)
}

const user = contact('wxid_bot')
for (const id of ['wxid_alice', 'wxid_bob', 'wxid_carol']) contact(id)
room('r1@chatroom', ['wxid_bot', 'wxid_alice', 'wxid_carol'])
// Log in once the puppet is on (the client starts it): the service replays login to new streams.
puppet.on('start', () => setImmediate(() => { if (!puppet.isLoggedIn) mocker.login(user) }))

const server = new PuppetServer({
  endpoint: `127.0.0.1:${process.env.PORT}`,
  puppet,
  token: process.env.TOKEN,
})
await server.start()
out({ event: 'listening' })

const rl = readline.createInterface({ input: process.stdin })
rl.on('line', (line) => {
  if (!line.trim()) return
  try {
    const c = JSON.parse(line)
    if (c.cmd === 'say') {
      const mentions = (c.mentions || []).map(contact)
      contact(c.from).say(c.text, mentions).to(c.room ? rooms.get(c.room) : user)
    } else if (c.cmd === 'join') {
      rooms.get(c.room).add(...c.members.map(contact)).by(c.by ? contact(c.by) : undefined)
    } else if (c.cmd === 'leave') {
      rooms.get(c.room).remove(...c.members.map(contact)).by(contact(c.members[0]))
    } else if (c.cmd === 'quit') {
      server.stop().finally(() => process.exit(0))
    } else {
      out({ event: 'error', message: `unknown cmd ${c.cmd}` })
    }
  } catch (e) {
    out({ event: 'error', message: String(e) })
  }
})
rl.on('close', () => { server.stop().finally(() => process.exit(0)) })
