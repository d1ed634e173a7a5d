'use strict';
// An echo bot written only against LivePerson's node-agent-sdk, as a brand
// would write one. It proves that `chatwindow simulate` serves the real SDK
// unchanged. It logs one JSON object per line on stdout for every step, so a
// test can follow it. Config: LP_ACCOUNT, LP_CSDS (host:port of the domain
// API), AGENT_USER, AGENT_PASSWORD; AGENT_SDK, the SDK's directory (default:
// node-agent-sdk from this directory's node_modules); BOT_TRACE=1 also logs
// every frame.
const sdk = process.env.AGENT_SDK || 'node-agent-sdk';
const { Agent } = require(sdk);
const sdkVersion = require(`${sdk}/package.json`).version;

for (const name of ['LP_ACCOUNT', 'LP_CSDS', 'AGENT_USER', 'AGENT_PASSWORD']) {
  if (!process.env[name]) { console.error(`bot: ${name} is not set`); process.exit(2); }
}

const log = (o) => process.stdout.write(JSON.stringify(o) + '\n');
let stopping = false;
let keepAlive;

// die ends the bot on any SDK error: a peer that deviates must fail loudly.
function die(where, err) {
  if (stopping) return;
  const error = err instanceof Error ? err.message : JSON.stringify(err); // response errors are whole frames
  log({ step: 'error', where, error });
  process.exit(1);
}

const agent = new Agent({
  accountId: process.env.LP_ACCOUNT,
  username: process.env.AGENT_USER,
  password: process.env.AGENT_PASSWORD,
  csdsDomain: process.env.LP_CSDS,
});

// call runs one SDK request and resolves with its response body.
const call = (method, body) => new Promise((resolve) =>
  agent[method](body, (err, resp) => (err ? die(method, err) : resolve(resp))));

if (process.env.BOT_TRACE) {
  agent.on('message:sent', (m) => log({ step: 'trace', dir: 'out', frame: m }));
  agent.on('notification', (m) => log({ step: 'trace', dir: 'in', type: m && m.type }));
}
agent.on('error', (err) => die('sdk', err));
agent.on('warn', (w) => log({ step: 'warn', message: w && w.message }));
agent.on('closed', (code) => { if (!stopping) { log({ step: 'closed', code }); process.exit(1); } });

agent.on('connected', async () => {
  log({ step: 'connected', agentId: agent.agentId, sdkVersion });
  const clock = await call('getClock', {});
  log({ step: 'clock', currentTime: clock && clock.currentTime });
  await call('setAgentState', { availability: 'ONLINE' });
  await call('subscribeExConversations', { convState: ['OPEN'], agentIds: [agent.agentId] });
  await call('subscribeRoutingTasks', {});
  keepAlive = setInterval(() => call('getClock', {}), 30000);
  log({ step: 'online' });
});

const rings = new Set(); // ring ids already answered
agent.on('routing.RoutingTaskNotification', (body) => {
  for (const change of body.changes) {
    if (change.type !== 'UPSERT') continue;
    for (const ring of change.result.ringsDetails) {
      if (ring.ringState !== 'WAITING' || rings.has(ring.ringId)) continue;
      rings.add(ring.ringId);
      const conversationId = change.result.conversationId;
      log({ step: 'ring', conversationId, ringId: ring.ringId });
      call('updateRingState', { ringId: ring.ringId, ringState: 'ACCEPTED' })
        .then(() => log({ step: 'accepted', conversationId }));
    }
  }
});

const following = new Set(); // conversation ids whose events the bot follows
agent.on('cqm.ExConversationChangeNotification', (body) => {
  for (const change of body.changes) {
    const conversationId = change.result.convId;
    const details = change.result.conversationDetails;
    if (change.type === 'DELETE' || details.state === 'CLOSE') {
      if (following.delete(conversationId)) log({ step: 'conversation-closed', conversationId });
      continue;
    }
    const mine = details.participants.some((p) => p.id === agent.agentId && p.role === 'ASSIGNED_AGENT');
    if (!mine || following.has(conversationId)) continue;
    following.add(conversationId);
    log({ step: 'conversation', conversationId, participants: details.participants });
    call('subscribeMessagingEvents', { dialogId: conversationId, fromSeq: 0 })
      .then(() => log({ step: 'following', conversationId }));
  }
});

const seen = new Set(); // dialogId:sequence already handled: history and live events overlap
agent.on('ms.MessagingEventNotification', (body) => {
  for (const c of body.changes) {
    const dialogId = c.dialogId || body.dialogId;
    const event = c.event || {};
    if (c.originatorId === agent.agentId || typeof c.sequence !== 'number') continue;
    if (seen.has(`${dialogId}:${c.sequence}`)) continue;
    seen.add(`${dialogId}:${c.sequence}`);
    const who = { originatorId: c.originatorId, role: c.originatorMetadata && c.originatorMetadata.role };
    if (event.type === 'AcceptStatusEvent') {
      log({ step: 'receipt', dialogId, sequence: c.sequence, status: event.status, sequenceList: event.sequenceList, ...who });
    } else if (event.type === 'ContentEvent') {
      log({ step: 'message', dialogId, sequence: c.sequence, text: event.message, ...who });
      answer(dialogId, c.sequence, event.message);
    }
  }
});

// answer marks a consumer's message delivered and read, then echoes it.
async function answer(dialogId, sequence, text) {
  for (const status of ['ACCEPT', 'READ']) {
    await call('publishEvent', { dialogId, event: { type: 'AcceptStatusEvent', status, sequenceList: [sequence] } });
    log({ step: 'sent-receipt', dialogId, status, sequenceList: [sequence] });
  }
  const resp = await call('publishEvent', { dialogId, event: { type: 'ContentEvent', contentType: 'text/plain', message: `echo: ${text}` } });
  log({ step: 'replied', dialogId, sequence: resp && resp.sequence, text: `echo: ${text}` });
}

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    stopping = true;
    clearInterval(keepAlive);
    agent.dispose();
    log({ step: 'stopped', signal: sig });
    process.exit(0);
  });
}
