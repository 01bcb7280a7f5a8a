// The @gitbeaker/rest calls a JavaScript CI script makes, against the server at argv[2].
// Prints one JSON object of what each call answered (tests/clients/test_gitbeaker.py reads it).
import { Gitlab } from '@gitbeaker/rest';

const [host, token] = process.argv.slice(2);
const api = new Gitlab({ host, token });
const project = 'conform/app';

const scoped = await api.Jobs.all(project, { scope: ['scheduled', 'canceling'] });
const pipelineJobs = await api.Jobs.all(project, { pipelineId: 10 });
const masterPipelines = await api.Pipelines.all(project, { ref: 'master' });
const latest = await api.Pipelines.showLatest(project, { ref: 'feature' });
const played = await api.Jobs.play(project, 103);
const retried = await api.Jobs.retry(project, 100);
const bridges = await api.Jobs.allPipelineBridges(project, 10);
let refused = null;
try {
  await api.Jobs.all(project, { scope: ['sleeping'] });
} catch (error) {
  refused = { status: error.cause?.response?.status ?? null, description: error.cause?.description ?? String(error) };
}

console.log(JSON.stringify({
  scoped: scoped.map((job) => job.id).sort((a, b) => a - b),
  pipelineJobs: pipelineJobs.map((job) => job.id),
  masterPipelines: masterPipelines.map((pipeline) => pipeline.id),
  latest: { id: latest.id, ref: latest.ref, status: latest.detailed_status.group },
  played: { id: played.id, status: played.status },
  retried: { id: retried.id, status: retried.status },
  bridges: bridges.map((bridge) => bridge.id),
  refused,
}));
