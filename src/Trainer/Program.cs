using System.CommandLine;
using HpcAdam.Trainer;
using HpcAdam.Trainer.Bench;
using HpcAdam.Trainer.Configuration;
using HpcAdam.Trainer.Doctor;
using HpcAdam.Trainer.Probe;
using HpcAdam.Trainer.Report;
using HpcAdam.Trainer.Sweep;
using HpcAdam.Trainer.SelfTest;
using HpcAdam.Trainer.Training;

PlainConsole.Install();

var root = new RootCommand("HpcAdam: data-parallel training with batch-size-invariant Adam over MPI.\n" +
                           "Run one process per rank: mpirun -np N hpcadam <command>, or srun --mpi=pmix hpcadam <command>.")
{
    TrainCommand.Create(),
    DoctorCommand.Create(),
    BenchCommand.Create(),
    SelfTestCommand.Create(),
    InvarianceProbeCommand.Create(),
    CompareCommand.Create(),
    SweepCommand.Create(),
};

SettingsCommand.ListKeysInHelp(root);

ParseResult parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    return UsageError.Report($"hpcadam: {parsed.Errors[0].Message} (see 'hpcadam --help')");
}
return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
