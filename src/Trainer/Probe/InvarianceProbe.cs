using HpcAdam.Collectives;
using HpcAdam.Optim;
using HpcAdam.Trainer.Configuration;
using HpcAdam.Trainer.Data;
using HpcAdam.Trainer.Models;
using HpcAdam.Trainer.Training;
using static TorchSharp.torch;

namespace HpcAdam.Trainer.Probe;

/// <summary>
/// From one set of weights and optimizer state (the initial weights after a warm-up of
/// Micro-Adam, so that the moments have a history as in the paper's theorems rather than the
/// first-step transient of a fresh state), runs the same micro-batches of the global stream as Micro-Adam
/// (κ = 1, the reference of the paper's theorems) and as merged steps of κ micro-batches with
/// BSI-Adam (<c>linear</c>) and standard Adam (<c>sqrt</c>), for each base learning rate, and
/// measures how far each ends from Micro-Adam: ‖w_κ − w_micro‖ / ‖w_micro − w_0‖. The rates are
/// given at the largest κ, as in the paper's §5. Every rank computes its share of each step's
/// micro-batches (k ≡ rank mod P) and one all-reduce sums [S1 | S2 | buffers], exactly as training does.
/// </summary>
internal sealed class InvarianceProbe(ICommunicator communicator, TrainerSettings settings, int[] kappas, double[] learningRates,
    TrainingData data)
{
    /// <summary>The relative weight discrepancy of one (optimizer, rule, base learning rate, κ).</summary>
    public sealed record Run(string Optimizer, string Scaling, double LearningRate, int Kappa, double Discrepancy);

    public TrainerSettings Settings => settings;
    public IReadOnlyList<int> Kappas => kappas;
    public IReadOnlyList<double> LearningRates => learningRates;
    public int MaxKappa => kappas[^1];

    /// <summary>The training split the probe draws from, once every key it reads is checked; throws <see cref="SettingsException"/> naming the first problem.</summary>
    public static TrainingData Check(TrainerSettings settings, int[] kappas)
    {
        string? problem = TrainerSettings.ModelAndDataProblem(settings)
            ?? (settings.Probe.MicroBatches < 1 || kappas.Any(kappa => settings.Probe.MicroBatches % kappa != 0)
                ? $"Probe:MicroBatches = {settings.Probe.MicroBatches} must be a positive multiple of every κ in Sweep:Kappas ({settings.Sweep.Kappas}), so every run sees the same micro-batches"
                : null)
            ?? (settings.Probe.Warmup < 0 ? $"Probe:Warmup = {settings.Probe.Warmup} must be 0 or more" : null)
            ?? SettingsValidation.OptimizerProblem(() => SettingsValidation.Hyperparameters(settings.Optimizer).Validate());
        if (problem is not null)
            throw new SettingsException(problem);
        var data = TrainingData.Load(settings);
        if (ModelFactory.Problem(settings.Model, data.Shape) is { } modelProblem)
            throw new SettingsException(modelProblem);
        return data;
    }

    public IReadOnlyList<Run> Measure(Action<string> progress)
    {
        using var scope = NewDisposeScope();
        manual_seed(settings.Train.Seed);
        nn.Module<Tensor, Tensor> model = ModelFactory.Create(settings.Model, data.Shape, data.Classes);
        using var replica = new ModelReplica(model, inputs => model.call(inputs[0]), (output, target) => nn.functional.cross_entropy(output, target));
        FlatParameters parameters = replica.Parameters;
        replica.TakeRankZeros(communicator);
        using Tensor initial = parameters.Weights.clone();
        using var sums = new StepBuffer(parameters.Count, replica.Buffers.Count, rank: 0, ranks: 1);
        var stream = new MicroBatchStream(data.Train.Count, settings.Batch.MicroBatchSize, settings.Train.Seed);
        int warmup = settings.Probe.Warmup, microBatches = settings.Probe.MicroBatches;

        var runs = new List<Run>();
        foreach (double learningRate in learningRates)
        {
            progress($"base learning rate {learningRate:G3}: {warmup} warm-up micro-batches of Micro-Adam, " +
                     $"then Micro-Adam, BSI-Adam and Adam at κ = {string.Join(", ", kappas)} on the next {microBatches}");
            AdamHyperparameters hyperparameters = SettingsValidation.Hyperparameters(settings.Optimizer) with { LearningRate = learningRate };
            parameters.Weights.copy_(initial);
            using var warm = new FlatOptimizer(parameters.Weights, OptimizerKind.MicroAdam, hyperparameters, ScalingRule.Linear, MaxKappa);
            Steps(warm, kappa: 1, first: 0, count: warmup);
            using Tensor start = parameters.Weights.clone();

            using Tensor micro = Train(OptimizerKind.MicroAdam, ScalingRule.Linear, kappa: 1);
            using Tensor microChange = micro - start;
            double microDistance = microChange.norm().item<float>();
            foreach ((OptimizerKind kind, ScalingRule rule) in new[] { (OptimizerKind.BsiAdam, ScalingRule.Linear), (OptimizerKind.Adam, ScalingRule.Sqrt) })
                foreach (int kappa in kappas)
                {
                    using Tensor merged = Train(kind, rule, kappa);
                    using Tensor gap = merged - micro;
                    runs.Add(new Run(OptimizerNames.Name(kind), rule.ToString().ToLowerInvariant(), learningRate, kappa, gap.norm().item<float>() / microDistance));
                }

            // From the warmed-up weights and state, the same micro-batches as steps of κ.
            Tensor Train(OptimizerKind kind, ScalingRule rule, int kappa)
            {
                parameters.Weights.copy_(start);
                using var optimizer = new FlatOptimizer(parameters.Weights, kind, hyperparameters, rule, MaxKappa);
                optimizer.State.CopyFrom(warm.State);
                Steps(optimizer, kappa, warmup, microBatches);
                return parameters.Weights.clone();
            }
        }
        return runs;

        void Steps(FlatOptimizer optimizer, int kappa, int first, int count)
        {
            for (int step = first; step < first + count; step += kappa)
            {
                sums.Clear();
                for (int k = communicator.Rank; k < kappa; k += communicator.Size)
                {
                    using MicroBatch microBatch = MicroBatch.Gather(data.Train, stream.Indices(step + k), CPU);
                    replica.AddMicroBatch(sums, microBatch, k, kappa);
                }
                sums.Reduce(communicator, stopRequested: false);
                optimizer.Step(sums.S1, sums.S2, kappa);
                replica.EndStep(sums, skipped: false);
            }
        }
    }

    /// <summary>
    /// The paper's critical learning rate (Fig. 2): the largest base learning rate at which, as at
    /// every smaller one tried, BSI-Adam stays under the threshold at every κ; null if the smallest fails.
    /// </summary>
    public static double? CriticalLearningRate(IReadOnlyList<Run> runs, double threshold) =>
        runs.Where(run => run.Optimizer == OptimizerNames.Name(OptimizerKind.BsiAdam))
            .GroupBy(run => run.LearningRate)
            .OrderBy(group => group.Key)
            .TakeWhile(group => group.All(run => run.Discrepancy < threshold))
            .Select(group => (double?)group.Key)
            .LastOrDefault();
}
